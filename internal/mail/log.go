package mail

import (
	"context"
	"log/slog"
)

// LogMailer writes each message to a log instead of sending it: the
// development default, so a developer can copy the link from the log. It
// logs the text body, and with it the token: never use it in production
// (config refuses it there unless chosen explicitly).
type LogMailer struct{ log *slog.Logger }

// NewLogMailer returns a Mailer that writes messages to log at info level.
func NewLogMailer(log *slog.Logger) *LogMailer { return &LogMailer{log: log} }

// Send logs m's recipient, subject and text body.
func (l *LogMailer) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	l.log.InfoContext(ctx, "mail (not sent: USERSVC_MAILER=log)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
