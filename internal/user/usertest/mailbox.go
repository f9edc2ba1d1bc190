package usertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Mail kinds a Mailbox records (user.MailKind as strings).
const (
	MailVerify          = string(user.MailVerifyEmail)
	MailReset           = string(user.MailResetPassword)
	MailEmailChanged    = string(user.MailEmailChanged)
	MailPasswordChanged = string(user.MailPasswordChanged)
)

// Mail is one message a Mailbox received.
type Mail struct {
	Kind   string // one of the Mail* kinds
	To     string // the address it went to
	UserID uuid.UUID
	Token  string
	TTL    time.Duration
}

// Mailbox is a user.Notifier that records every message, for tests. It is
// safe for concurrent use. Next waits for a message without sleeping; Hold
// makes deliveries block until released, and SetFail makes them fail.
type Mailbox struct {
	mu      sync.Mutex
	mails   []Mail
	taken   []bool        // mails[i] was returned by Next, Take or Unread
	arrived chan struct{} // closed and replaced at each new message
	held    chan struct{} // non-nil while Hold is in force
	fail    error
}

// NewMailbox returns an empty Mailbox.
func NewMailbox() *Mailbox { return &Mailbox{arrived: make(chan struct{})} }

// Send implements user.Notifier.
func (m *Mailbox) Send(ctx context.Context, mail user.Mail) error {
	return m.deliver(ctx, Mail{Kind: string(mail.Kind), To: mail.To, UserID: mail.UserID, Token: mail.Token, TTL: mail.TTL})
}

func (m *Mailbox) deliver(ctx context.Context, mail Mail) error {
	m.mu.Lock()
	held := m.held
	m.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.mails = append(m.mails, mail)
	m.taken = append(m.taken, false)
	close(m.arrived)
	m.arrived = make(chan struct{})
	return nil
}

// Hold makes every delivery from now on wait until release is called (or
// its context ends).
func (m *Mailbox) Hold() (release func()) {
	ch := make(chan struct{})
	m.mu.Lock()
	m.held = ch
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			if m.held == ch {
				m.held = nil
			}
			m.mu.Unlock()
			close(ch)
		})
	}
}

// SetFail makes deliveries fail with err from now on; nil makes them work.
func (m *Mailbox) SetFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Next returns the oldest message not yet returned (by Next, Take or
// Unread), waiting for one until ctx ends.
func (m *Mailbox) Next(ctx context.Context) (Mail, error) {
	return m.take(ctx, func(Mail) bool { return true })
}

// Take returns the oldest message of kind to address to (in any letter
// case) not yet returned, waiting for one until ctx ends. Mail of
// different queues (a reset link, a verification link) may arrive in any
// order: Take waits for the one it names and leaves the others.
func (m *Mailbox) Take(ctx context.Context, kind, to string) (Mail, error) {
	return m.take(ctx, func(mail Mail) bool { return mail.Kind == kind && strings.EqualFold(mail.To, to) })
}

func (m *Mailbox) take(ctx context.Context, match func(Mail) bool) (Mail, error) {
	for {
		m.mu.Lock()
		for i, mail := range m.mails {
			if !m.taken[i] && match(mail) {
				m.taken[i] = true
				m.mu.Unlock()
				return mail, nil
			}
		}
		arrived := m.arrived
		m.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Mail{}, fmt.Errorf("usertest: no such mail arrived: %w", ctx.Err())
		}
	}
}

// Unread returns the messages not yet returned, oldest first, and counts
// them as returned.
func (m *Mailbox) Unread() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	var unread []Mail
	for i, mail := range m.mails {
		if !m.taken[i] {
			unread = append(unread, mail)
			m.taken[i] = true
		}
	}
	return unread
}

// All returns every message received so far, oldest first.
func (m *Mailbox) All() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.mails...)
}

var _ user.Notifier = (*Mailbox)(nil)
