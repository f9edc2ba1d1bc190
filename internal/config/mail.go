package config

import (
	"net/mail"
	"strings"
	"time"

	accountmail "github.com/usersvc/usersvc/internal/mail"
)

// Mail is how account mail (email verification, password reset) is sent
// and the links it carries. Config embeds it, so its variables sit beside
// the others.
type Mail struct {
	// Mailer is MailerLog or MailerSMTP. Empty means MailerLog in
	// development and is refused in production, so that no production
	// service silently mails nothing.
	Mailer       string        `env:"USERSVC_MAILER"`
	SMTPHost     string        `env:"USERSVC_SMTP_HOST"`
	SMTPPort     int           `env:"USERSVC_SMTP_PORT"` // 0: the TLS mode's usual port
	SMTPUsername string        `env:"USERSVC_SMTP_USERNAME"`
	SMTPPassword string        `env:"USERSVC_SMTP_PASSWORD" secret:"true"`
	SMTPTLS      string        `env:"USERSVC_SMTP_TLS" envDefault:"starttls"`
	SMTPTimeout  time.Duration `env:"USERSVC_SMTP_TIMEOUT" envDefault:"10s"`
	// MailFrom is the sender, with an optional display name.
	MailFrom string `env:"USERSVC_MAIL_FROM"`
	// VerifyEmailURL and PasswordResetURL are the links in the messages,
	// with {token} where the (query-escaped) token goes. Unset: the hosted
	// pages under USERSVC_PUBLIC_URL when it is set and USERSVC_UI is on,
	// else http://localhost:3000/... (development; production refuses it).
	VerifyEmailURL   string `env:"USERSVC_VERIFY_EMAIL_URL"`
	PasswordResetURL string `env:"USERSVC_PASSWORD_RESET_URL"`
	// UndoEmailChangeURL is the link, mailed to the previous address of an
	// email change, that undoes it.
	UndoEmailChangeURL string `env:"USERSVC_UNDO_EMAIL_CHANGE_URL"`
}

// Mailers USERSVC_MAILER accepts.
const (
	MailerLog  = "log"
	MailerSMTP = "smtp"
)

// SMTP TLS modes USERSVC_SMTP_TLS accepts.
const (
	SMTPStartTLS = "starttls"
	SMTPImplicit = "implicit"
	SMTPNoTLS    = "none"
)

func (m *Mail) validate(env string, bad func(name, format string, args ...any)) {
	switch m.Mailer {
	case MailerLog, MailerSMTP:
	case "":
		if env == Production {
			bad("USERSVC_MAILER", "is required in production: %q, with USERSVC_SMTP_HOST and USERSVC_MAIL_FROM, to send account mail", MailerSMTP)
		}
		m.Mailer = MailerLog
	default:
		bad("USERSVC_MAILER", "must be %q or %q, got %q", MailerLog, MailerSMTP, m.Mailer)
	}
	if m.SMTPTLS != SMTPStartTLS && m.SMTPTLS != SMTPImplicit && m.SMTPTLS != SMTPNoTLS {
		bad("USERSVC_SMTP_TLS", "must be %q, %q or %q, got %q", SMTPStartTLS, SMTPImplicit, SMTPNoTLS, m.SMTPTLS)
	}
	if m.SMTPPort < 0 || m.SMTPPort > 65535 {
		bad("USERSVC_SMTP_PORT", "must be between 1 and 65535 (or empty for the TLS mode's usual port), got %d", m.SMTPPort)
	}
	if m.SMTPTimeout < time.Second || m.SMTPTimeout > 5*time.Minute {
		bad("USERSVC_SMTP_TIMEOUT", "must be between 1s and 5m, got %s", m.SMTPTimeout)
	}
	if m.SMTPPassword != "" && m.SMTPUsername == "" {
		bad("USERSVC_SMTP_USERNAME", "is required when USERSVC_SMTP_PASSWORD is set")
	}
	if m.SMTPUsername != "" && m.SMTPPassword == "" {
		bad("USERSVC_SMTP_PASSWORD", "is required when USERSVC_SMTP_USERNAME is set")
	}
	if m.SMTPTLS == SMTPNoTLS && m.SMTPUsername != "" {
		bad("USERSVC_SMTP_USERNAME", "must be empty with USERSVC_SMTP_TLS=none: the login would be refused rather than sent in clear")
	}
	if m.MailFrom != "" {
		if _, err := mail.ParseAddress(m.MailFrom); err != nil {
			bad("USERSVC_MAIL_FROM", "must be an address, optionally with a name (Example <no-reply@example.com>), got %q", m.MailFrom)
		}
	}
	if m.Mailer == MailerSMTP {
		if strings.TrimSpace(m.SMTPHost) == "" {
			bad("USERSVC_SMTP_HOST", "is required with USERSVC_MAILER=smtp")
		}
		if m.MailFrom == "" {
			bad("USERSVC_MAIL_FROM", "is required with USERSVC_MAILER=smtp")
		}
	}
	checkLink(bad, "USERSVC_VERIFY_EMAIL_URL", m.VerifyEmailURL)
	checkLink(bad, "USERSVC_PASSWORD_RESET_URL", m.PasswordResetURL)
	checkLink(bad, "USERSVC_UNDO_EMAIL_CHANGE_URL", m.UndoEmailChangeURL)
}

// checkLink refuses a link template that is not an absolute http(s) URL
// with the token's placeholder in it (mail.CheckLinkTemplate).
func checkLink(bad func(name, format string, args ...any), name, tmpl string) {
	if err := accountmail.CheckLinkTemplate(tmpl); err != nil {
		bad(name, "must be an absolute http(s) URL with %s where the token goes, like https://app.example.com/verify?token=%s: %v",
			accountmail.TokenPlaceholder, accountmail.TokenPlaceholder, err)
	}
}
