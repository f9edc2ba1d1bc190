package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// defaultMail is Mail in development when no variable sets it.
var defaultMail = Mail{
	Mailer: MailerLog, SMTPTLS: SMTPStartTLS, SMTPTimeout: 10 * time.Second,
	VerifyEmailURL:     "http://localhost:3000/verify-email?token={token}",
	PasswordResetURL:   "http://localhost:3000/reset-password?token={token}",
	UndoEmailChangeURL: "http://localhost:3000/undo-email-change?token={token}",
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
		"USERSVC_UNDO_EMAIL_CHANGE_URL=https://app.example.com/undo/{token}",
	}, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Mail{
		Mailer: MailerSMTP, SMTPHost: "smtp.example.com", SMTPPort: 465, SMTPUsername: "mailer",
		SMTPPassword: "Smtp-Secret-Value", SMTPTLS: SMTPImplicit, SMTPTimeout: 30 * time.Second,
		MailFrom:         "Example Accounts <no-reply@example.com>",
		VerifyEmailURL:   "https://app.example.com/verify?t={token}",
		PasswordResetURL: "https://app.example.com/reset/{token}", UndoEmailChangeURL: "https://app.example.com/undo/{token}",
	}
	if diff := cmp.Diff(want, c.Mail); diff != "" {
		t.Errorf("Mail (-want +got):\n%s", diff)
	}
}

// In production a mailer must be chosen, and the log mailer (which mails
// nothing and logs the tokens) only with its override; smtp is accepted
// with its settings.
func TestLoadMailInProduction(t *testing.T) {
	prod := productionEnv(Production)
	if _, err := Load(productionBase(Production), ""); err == nil || !strings.Contains(err.Error(), "USERSVC_MAILER") {
		t.Errorf("production without USERSVC_MAILER: error %v, want one naming USERSVC_MAILER", err)
	}
	if _, err := Load(append(prod, "USERSVC_MAILER=log"), ""); err == nil || !strings.Contains(err.Error(), "USERSVC_MAILER") {
		t.Errorf("production with USERSVC_MAILER=log: error %v, want one naming USERSVC_MAILER", err)
	}
	c, err := Load(append(prod, "USERSVC_MAILER=log", "USERSVC_INSECURE_OVERRIDES=log_mailer"), "")
	if err != nil || c.Mailer != MailerLog {
		t.Errorf("production with USERSVC_MAILER=log and its override: %q, %v; want log, nil", c.Mailer, err)
	}
	c, err = Load(prod, "")
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
