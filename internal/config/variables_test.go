package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnknownVariableSuggestions(t *testing.T) {
	for _, tt := range []struct {
		set  string
		want string // the whole report; "" when not reported
	}{
		{"USERSVC_DATABSE_URL=postgres://db/users", "USERSVC_DATABSE_URL: unknown; did you mean DATABASE_URL?"},
		{"USERSVC_REDIS_URL=redis://cache", "USERSVC_REDIS_URL: unknown; did you mean REDIS_URL?"},
		{"USERSVC_JWT_SECERT=x", "USERSVC_JWT_SECERT: unknown; did you mean USERSVC_JWT_SECRET?"},
		{"USERSVC_RATE_LIMIT_LOGIN_ACCT=5/1m", "USERSVC_RATE_LIMIT_LOGIN_ACCT: unknown; did you mean USERSVC_RATE_LIMIT_LOGIN_ACCOUNT?"},
		{"USERSVC_SMTP_PASSWORD_FLIE=/run/secrets/smtp", "USERSVC_SMTP_PASSWORD_FLIE: unknown; did you mean USERSVC_SMTP_PASSWORD_FILE?"},
		{"usersvc_addr=:9000", "usersvc_addr: unknown; did you mean USERSVC_ADDR?"},
		{"USERSVC_COMPLETELY_DIFFERENT=1", "USERSVC_COMPLETELY_DIFFERENT: unknown (README.md, Configuration, lists every variable)"},
		{"USERSVC_TEST_POSTGRES_URL=postgres://db", ""}, // the test suite's, not the service's
		{"USERSVC_BENCH_POSTGRES_URL=postgres://db", ""},
		{"USERSVC_JWT_SECRET_FILE=/run/secrets/jwt", ""},
		{"HOME=/root", ""},
	} {
		t.Run(tt.set, func(t *testing.T) {
			name, _, _ := strings.Cut(tt.set, "=")
			got := unknownVariables(map[string]string{name: "value", "USERSVC_ADDR": ":1"})
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !slices.Equal(got, want) {
				t.Errorf("unknownVariables(%s) = %q, want %q", name, got, want)
			}
		})
	}
}

// An unknown variable is a warning in development, a refusal in
// production, from the environment or the .env file; its value is never
// shown.
func TestLoadReportsUnknownVariables(t *testing.T) {
	const typo = "USERSVC_DATABSE_URL=postgres://u:Sup3r-Secret@db/users"
	const want = "USERSVC_DATABSE_URL: unknown; did you mean DATABASE_URL?"

	c, err := Load([]string{typo}, "")
	if err != nil {
		t.Fatalf("development: error %v, want none", err)
	}
	if !slices.Equal(c.Warnings, []string{want}) {
		t.Errorf("development: Warnings = %q, want [%q]", c.Warnings, want)
	}

	_, err = Load(append(productionEnv(Production), typo), "")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("production: error %v, want one saying %q", err, want)
	} else if strings.Contains(err.Error(), "Sup3r-Secret") {
		t.Errorf("production: error %q shows the value", err)
	}

	dotenv := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(dotenv, []byte(typo+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(productionEnv(Production), dotenv); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("production, typo in .env: error %v, want one saying %q", err, want)
	}
}

// When a start fails, the unknown variables are shown with the error, as a
// typo is often its cause.
func TestLoadErrorShowsUnknownVariables(t *testing.T) {
	_, err := Load([]string{"USERSVC_MAILER=smtp", "USERSVC_MAIL_FROM=no-reply@example.com", "USERSVC_SMTP_HSOT=smtp.example.com"}, "")
	if err == nil {
		t.Fatal("Load succeeded without USERSVC_SMTP_HOST, want an error")
	}
	for _, want := range []string{"USERSVC_SMTP_HOST: is required", "USERSVC_SMTP_HSOT: unknown; did you mean USERSVC_SMTP_HOST?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestSecretVariables pins which variables are secret: they accept NAME_FILE
// and are masked wherever settings are shown.
func TestSecretVariables(t *testing.T) {
	var got []string
	for _, v := range variables() {
		if v.secret != "" {
			got = append(got, v.name)
		}
	}
	want := []string{"DATABASE_URL", "USERSVC_JWT_SECRET", "REDIS_URL", "USERSVC_KEY_ENCRYPTION_KEY", "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "USERSVC_KEY_ENCRYPTION_KEY_NEXT", "USERSVC_SMTP_PASSWORD", "USERSVC_BOOTSTRAP_ADMIN_PASSWORD", "USERSVC_EVENTS_NATS_URL"}
	if !slices.Equal(got, want) {
		t.Errorf("secret variables = %q, want %q", got, want)
	}
}
