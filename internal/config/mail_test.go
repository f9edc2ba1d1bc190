package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// defaultMail is Mail in development when no variable sets it.
var defaultMail = Mail{
	Mailer: MailerLog, SMTPTLS: SMTPStartTLS, SMTPTimeout: 10 * time.Second,
	VerifyEmailURL:   "http://localhost:3000/verify-email?token={token}",
	PasswordResetURL: "http://localhost:3000/reset-password?token={token}",
}

func TestLoadMailReadsEveryVariable(t *testing.T) {
	c, err := Load([]string{
		"USERSVC_MAILER=smtp",
		"USERSVC_SMTP_HOST=smtp.example.com",
		"USERSVC_SMTP_PORT=465",
		"USERSVC_SMTP_USERNAME=mailer",
		"USERSVC_SMTP_PASSWORD=Smtp-Secret-Value",
		"USERSVC_SMTP_TLS=implicit",
		"USERSVC_SMTP_TIMEOUT=30s",
		"USERSVC_MAIL_FROM=Example Accounts <no-reply@example.com>",
		"USERSVC_VERIFY_EMAIL_URL=https://app.example.com/verify?t={token}",
		"USERSVC_PASSWORD_RESET_URL=https://app.example.com/reset/{token}",
	}, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Mail{
		Mailer: MailerSMTP, SMTPHost: "smtp.example.com", SMTPPort: 465, SMTPUsername: "mailer",
		SMTPPassword: "Smtp-Secret-Value", SMTPTLS: SMTPImplicit, SMTPTimeout: 30 * time.Second,
		MailFrom:         "Example Accounts <no-reply@example.com>",
		VerifyEmailURL:   "https://app.example.com/verify?t={token}",
		PasswordResetURL: "https://app.example.com/reset/{token}",
	}
	if diff := cmp.Diff(want, c.Mail); diff != "" {
		t.Errorf("Mail (-want +got):\n%s", diff)
	}
}

// In production the log mailer must be chosen explicitly; so must smtp,
// which is then accepted with its settings.
func TestLoadMailInProduction(t *testing.T) {
	prod := []string{"USERSVC_ENV=production", "USERSVC_KEY_ENCRYPTION_KEY=" + kek}
	if _, err := Load(prod, ""); err == nil || !strings.Contains(err.Error(), "USERSVC_MAILER") {
		t.Errorf("production without USERSVC_MAILER: error %v, want one naming USERSVC_MAILER", err)
	}
	c, err := Load(append(prod, "USERSVC_MAILER=log"), "")
	if err != nil || c.Mailer != MailerLog {
		t.Errorf("production with USERSVC_MAILER=log: %q, %v; want log, nil", c.Mailer, err)
	}
	c, err = Load(append(prod, "USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com", "USERSVC_MAIL_FROM=no-reply@example.com"), "")
	if err != nil || c.Mailer != MailerSMTP {
		t.Errorf("production with smtp: %q, %v; want smtp, nil", c.Mailer, err)
	}
}

func TestLoadMailRejectsBadValuesNamingTheVariable(t *testing.T) {
	const secret = "Smtp-Secret-Value"
	smtp := []string{"USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com", "USERSVC_MAIL_FROM=no-reply@example.com"}
	for _, tt := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"unknown mailer", []string{"USERSVC_MAILER=sendmail"}, "USERSVC_MAILER"},
		{"smtp without host", []string{"USERSVC_MAILER=smtp", "USERSVC_MAIL_FROM=no-reply@example.com"}, "USERSVC_SMTP_HOST"},
		{"smtp without sender", []string{"USERSVC_MAILER=smtp", "USERSVC_SMTP_HOST=smtp.example.com"}, "USERSVC_MAIL_FROM"},
		{"sender not an address", append(smtp[:2:2], "USERSVC_MAIL_FROM=no-reply"), "USERSVC_MAIL_FROM"},
		{"port not a number", append(smtp, "USERSVC_SMTP_PORT=smtp"), "USERSVC_SMTP_PORT"},
		{"port out of range", append(smtp, "USERSVC_SMTP_PORT=70000"), "USERSVC_SMTP_PORT"},
		{"unknown tls mode", append(smtp, "USERSVC_SMTP_TLS=ssl"), "USERSVC_SMTP_TLS"},
		{"timeout too short", append(smtp, "USERSVC_SMTP_TIMEOUT=100ms"), "USERSVC_SMTP_TIMEOUT"},
		{"timeout too long", append(smtp, "USERSVC_SMTP_TIMEOUT=1h"), "USERSVC_SMTP_TIMEOUT"},
		{"timeout not a duration", append(smtp, "USERSVC_SMTP_TIMEOUT=soon"), "USERSVC_SMTP_TIMEOUT"},
		{"password without username", append(smtp, "USERSVC_SMTP_PASSWORD="+secret), "USERSVC_SMTP_USERNAME"},
		{"username without password", append(smtp, "USERSVC_SMTP_USERNAME=mailer"), "USERSVC_SMTP_PASSWORD"},
		{"login without TLS", append(smtp, "USERSVC_SMTP_TLS=none", "USERSVC_SMTP_USERNAME=mailer", "USERSVC_SMTP_PASSWORD="+secret), "USERSVC_SMTP_USERNAME"},
		{"verify link without token", []string{"USERSVC_VERIFY_EMAIL_URL=https://app.example.com/verify"}, "USERSVC_VERIFY_EMAIL_URL"},
		{"verify link relative", []string{"USERSVC_VERIFY_EMAIL_URL=/verify?token={token}"}, "USERSVC_VERIFY_EMAIL_URL"},
		{"reset link not http", []string{"USERSVC_PASSWORD_RESET_URL=javascript:alert({token})"}, "USERSVC_PASSWORD_RESET_URL"},
		{"reset link without token", []string{"USERSVC_PASSWORD_RESET_URL=https://app.example.com/reset"}, "USERSVC_PASSWORD_RESET_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.environ, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%q) error = %v, want one naming %s", tt.environ, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the SMTP password: %v", err)
			}
		})
	}
}

// The SMTP password is scrubbed from the process environment once read.
func TestSMTPPasswordIsUnset(t *testing.T) {
	t.Setenv("USERSVC_SMTP_PASSWORD", "Smtp-Secret-Value")
	c, err := Load(append(os.Environ(), "USERSVC_SMTP_USERNAME=mailer"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPPassword != "Smtp-Secret-Value" {
		t.Errorf("SMTPPassword = %q, want the value read", c.SMTPPassword)
	}
	if v, ok := os.LookupEnv("USERSVC_SMTP_PASSWORD"); ok {
		t.Errorf("USERSVC_SMTP_PASSWORD is still in the environment: %q", v)
	}
}
