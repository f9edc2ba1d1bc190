package app

import (
	"fmt"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/mail"
)

// notifier builds the account mailer from the configuration: SMTP, or in
// development by default the log (or mailer, a test's, when not nil). The
// job queue calls it for each queued mail (openQueue).
func (a *App) notifier(mailer mail.Mailer) (*mail.Notifier, error) {
	cfg, log := a.cfg, a.log
	switch {
	case mailer != nil:
	case cfg.Mailer == config.MailerSMTP:
		s, err := mail.NewSMTP(mail.SMTPConfig{
			Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: mail.TLSMode(cfg.SMTPTLS),
			Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			From: cfg.MailFrom, Timeout: cfg.SMTPTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		mailer = s
		log.Info("account mail is sent by SMTP", "host", cfg.SMTPHost, "tls", cfg.SMTPTLS)
	default:
		mailer = mail.NewLogMailer(log)
		log.Warn("USERSVC_MAILER=log: account mail is written to this log, tokens included, and not sent")
	}
	n, err := mail.NewNotifier(mail.NotifierConfig{
		Mailer:             mailer,
		VerifyEmailURL:     cfg.VerifyEmailURL,
		ResetPasswordURL:   cfg.PasswordResetURL,
		UndoEmailChangeURL: cfg.UndoEmailChangeURL,
		Logger:             log,
	})
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return n, nil
}
