package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSecret writes content to a new file and returns its path.
func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every secret variable takes its value from the file NAME_FILE names,
// without the trailing newline that `echo` and editors leave.
func TestSecretFromFile(t *testing.T) {
	for _, tt := range []struct {
		name  string
		value string
		with  []string // what the value needs beside it
		got   func(Config) string
	}{
		{"USERSVC_JWT_SECRET", hs256Secret, nil, func(c Config) string { return c.JWTSecret }},
		{"USERSVC_KEY_ENCRYPTION_KEY", kek, nil, func(c Config) string { return c.KeyEncryptionKey }},
		{"USERSVC_SMTP_PASSWORD", "Smtp Secret Value", []string{"USERSVC_SMTP_USERNAME=mailer"}, func(c Config) string { return c.SMTPPassword }},
		{"USERSVC_BOOTSTRAP_ADMIN_PASSWORD", "a long secret phrase",
			[]string{"USERSVC_BOOTSTRAP_ADMIN_EMAIL=root@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME=root"},
			func(c Config) string { return c.BootstrapAdminPassword }},
		{"DATABASE_URL", "postgres://usersvc:Db-Secret@db:5432/usersvc?sslmode=require", nil, func(c Config) string { return c.DatabaseURL }},
		{"REDIS_URL", "rediss://:Redis-Secret@cache:6379/0", nil, func(c Config) string { return c.RedisURL }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSecret(t, tt.value+"\n")
			c, err := Load(append(tt.with, tt.name+"_FILE="+path), "")
			if err != nil {
				t.Fatalf("Load error = %v", err)
			}
			if got := tt.got(c); got != tt.value {
				t.Errorf("%s from %s_FILE = %q, want %q", tt.name, tt.name, got, tt.value)
			}
			if len(c.Warnings) != 0 {
				t.Errorf("Warnings = %q, want none: %s_FILE is a known variable", c.Warnings, tt.name)
			}
		})
	}
}

// The file's value is judged like the variable's: production refuses a
// weak secret whichever way it came.
func TestSecretFromFileIsValidated(t *testing.T) {
	path := writeSecret(t, strings.Repeat("a", 40)+"\n")
	_, err := Load(append(productionEnv(Production), "USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET_FILE="+path), "")
	if err == nil || !strings.Contains(err.Error(), "USERSVC_JWT_SECRET: ") {
		t.Errorf("weak secret from a file: error %v, want one naming USERSVC_JWT_SECRET", err)
	}
}

func TestSecretFileRefusals(t *testing.T) {
	const value = "Jwt-Secret-Value-That-Must-Not-Be-Printed"
	dir := t.TempDir()
	missing := filepath.Join(dir, "absent")
	for _, tt := range []struct {
		name    string
		environ []string
		want    []string // what the error must name
	}{
		{"both set", []string{"USERSVC_JWT_SECRET=" + value, "USERSVC_JWT_SECRET_FILE=" + writeSecret(t, value)},
			[]string{"USERSVC_JWT_SECRET and USERSVC_JWT_SECRET_FILE", "set only one"}},
		{"missing file", []string{"USERSVC_SMTP_USERNAME=mailer", "USERSVC_SMTP_PASSWORD_FILE=" + missing},
			[]string{"USERSVC_SMTP_PASSWORD_FILE: cannot read " + missing, "no such file"}},
		{"a directory", []string{"DATABASE_URL_FILE=" + dir}, []string{"DATABASE_URL_FILE: cannot read " + dir}},
		{"empty file", []string{"REDIS_URL_FILE=" + writeSecret(t, "\n")}, []string{"REDIS_URL_FILE: ", "is empty"}},
		{"too large", []string{"USERSVC_JWT_SECRET_FILE=" + writeSecret(t, strings.Repeat(value, 2000))},
			[]string{"USERSVC_JWT_SECRET_FILE: ", "larger than"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.environ, "")
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// Only secrets take NAME_FILE: on another variable it is unknown.
func TestFileVariantOnlyForSecrets(t *testing.T) {
	c, err := Load([]string{"USERSVC_ADDR_FILE=" + writeSecret(t, ":9000")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "USERSVC_ADDR_FILE: unknown") {
		t.Errorf("USERSVC_ADDR_FILE: Addr %q, Warnings %q; want the default and a warning that it is unknown", c.Addr, c.Warnings)
	}
}

// Load reads the environment it is given and leaves the process's alone:
// it never pretends to scrub a secret (an unset variable still shows in
// /proc/PID/environ); NAME_FILE is how a secret stays out of it.
func TestLoadLeavesTheProcessEnvironment(t *testing.T) {
	t.Setenv("USERSVC_SMTP_PASSWORD", "Smtp-Secret-Value")
	if _, err := Load(append(os.Environ(), "USERSVC_SMTP_USERNAME=mailer"), ""); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv("USERSVC_SMTP_PASSWORD"); v != "Smtp-Secret-Value" {
		t.Errorf("USERSVC_SMTP_PASSWORD after Load = %q, want it untouched", v)
	}
}

// The .env parser's own errors quote the file; Load's must not, as the
// file holds secrets.
func TestUnparsableDotenvIsNotShown(t *testing.T) {
	const value = "Unterminated-Secret-Value"
	for _, content := range []string{
		"USERSVC_JWT_SECRET=\"" + value + "\n",
		"USERSVC_ADDR=:8080\nBAD NAME " + value + "=x\n",
	} {
		path := filepath.Join(t.TempDir(), ".env")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(nil, path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%q) error = %v, want one naming the file", content, err)
		} else if strings.Contains(err.Error(), value) {
			t.Errorf("Load(%q) error %q shows the file's content", content, err)
		}
	}
}
