package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/usersvc/usersvc/internal/user"
)

// NotifierConfig configures a Notifier. Every field but Logger is
// required.
type NotifierConfig struct {
	Mailer Mailer
	// VerifyEmailURL, ResetPasswordURL and UndoEmailChangeURL are the
	// links the messages carry: absolute http(s) URLs with
	// TokenPlaceholder where the token goes.
	VerifyEmailURL, ResetPasswordURL, UndoEmailChangeURL string
	// Logger is unused; kept so that callers configure one place.
	Logger *slog.Logger
}

// Notifier implements user.Notifier: it renders an account message and
// sends it through the Mailer, once. It queues nothing: the job queue
// (internal/jobs) calls it for each queued mail and retries a failure
// with backoff, across restarts.
type Notifier struct {
	c    NotifierConfig
	tmpl templates
}

var _ user.Notifier = (*Notifier)(nil)

// NewNotifier checks c and parses the templates.
func NewNotifier(c NotifierConfig) (*Notifier, error) {
	if c.Mailer == nil {
		return nil, errors.New("mail: no mailer")
	}
	if err := CheckLinkTemplate(c.VerifyEmailURL); err != nil {
		return nil, fmt.Errorf("mail: verify-email link: %w", err)
	}
	if err := CheckLinkTemplate(c.ResetPasswordURL); err != nil {
		return nil, fmt.Errorf("mail: password-reset link: %w", err)
	}
	if err := CheckLinkTemplate(c.UndoEmailChangeURL); err != nil {
		return nil, fmt.Errorf("mail: undo-email-change link: %w", err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	return &Notifier{c: c, tmpl: tmpl}, nil
}

// Send renders m and sends it. It never shows a name or any other text a
// user wrote: only the address, the link and its token. A message that
// cannot be sent as it is, however often tried (no link for its kind, an
// invalid recipient), is an error wrapping user.ErrUndeliverable.
func (n *Notifier) Send(ctx context.Context, m user.Mail) error {
	c := content{Email: m.To, ValidFor: validFor(m.TTL)}
	if m.Token != "" {
		tmpl, ok := n.links()[m.Kind]
		if !ok {
			return fmt.Errorf("%w: %s carries no link", user.ErrUndeliverable, m.Kind)
		}
		c.Link, c.Token = Link(tmpl, m.Token), m.Token
	}
	msg, err := n.tmpl.render(string(m.Kind), c)
	if err != nil {
		return fmt.Errorf("%w: %w", user.ErrUndeliverable, err)
	}
	if err := n.c.Mailer.Send(ctx, msg); err != nil {
		if errors.Is(err, ErrInvalidMessage) {
			return fmt.Errorf("%w: %w", user.ErrUndeliverable, err)
		}
		return err
	}
	return nil
}

// links are the link templates of the messages that carry one.
func (n *Notifier) links() map[user.MailKind]string {
	return map[user.MailKind]string{
		user.MailVerifyEmail:   n.c.VerifyEmailURL,
		user.MailResetPassword: n.c.ResetPasswordURL,
		user.MailEmailChanged:  n.c.UndoEmailChangeURL,
	}
}
