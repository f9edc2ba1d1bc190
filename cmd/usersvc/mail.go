package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/mail"
)

// newNotifier builds the account-mail outbox from cfg: SMTP, or in
// development by default the log.
func newNotifier(cfg config.Config, log *slog.Logger) (*mail.Notifier, error) {
	var mailer mail.Mailer
	if cfg.Mailer == config.MailerSMTP {
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
	} else {
		mailer = mail.NewLogMailer(log)
		log.Warn("USERSVC_MAILER=log: account mail is written to this log, tokens included, and not sent")
	}
	n, err := mail.NewNotifier(mail.NotifierConfig{
		Mailer:           mailer,
		VerifyEmailURL:   cfg.VerifyEmailURL,
		ResetPasswordURL: cfg.PasswordResetURL,
		Logger:           log,
	})
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return n, nil
}

// closeNotifier delivers the mail still queued, giving up after grace.
func closeNotifier(n *mail.Notifier, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		log.Error("close mail outbox", "error", err.Error())
		return
	}
	log.Info("mail outbox closed")
}
