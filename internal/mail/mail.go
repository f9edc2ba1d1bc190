// Package mail renders and delivers usersvc's account mail: the messages
// that verify an email address and reset a password. A Mailer delivers one
// message (SMTP, or the development log); the Notifier renders the
// embedded templates and sends one message. Requests never wait for it:
// the durable job queue (internal/jobs) calls it and retries failures.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Message is one plain-text mail with an optional HTML alternative.
type Message struct {
	To      string // one address, without a display name
	Subject string
	Text    string
	HTML    string // empty for a text-only message
}

// Mailer delivers a message.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage is a message refused before sending: a recipient that
// is not one address, or a line break in a header field (header
// injection).
var ErrInvalidMessage = errors.New("invalid message")

// check refuses header injection and a recipient that is not exactly one
// bare address.
func (m Message) check() error {
	for name, v := range map[string]string{"recipient": m.To, "subject": m.Subject} {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%w: line break in the %s", ErrInvalidMessage, name)
		}
	}
	a, err := mail.ParseAddress(m.To)
	if err != nil || a.Name != "" || a.Address != m.To {
		return fmt.Errorf("%w: the recipient is not one plain address", ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Subject) == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidMessage)
	}
	return nil
}
