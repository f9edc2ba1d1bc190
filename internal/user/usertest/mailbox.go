package usertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Mail kinds a Mailbox records.
const (
	MailVerify = "verify_email"
	MailReset  = "reset_password"
)

// Mail is one message a Mailbox received.
type Mail struct {
	Kind   string // MailVerify or MailReset
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
	read    int
	arrived chan struct{} // closed and replaced at each new message
	held    chan struct{} // non-nil while Hold is in force
	fail    error
}

// NewMailbox returns an empty Mailbox.
func NewMailbox() *Mailbox { return &Mailbox{arrived: make(chan struct{})} }

// VerifyEmail implements user.Notifier.
func (m *Mailbox) VerifyEmail(ctx context.Context, u user.User, token string, ttl time.Duration) error {
	return m.deliver(ctx, Mail{Kind: MailVerify, To: u.Email, UserID: u.ID, Token: token, TTL: ttl})
}

// ResetPassword implements user.Notifier.
func (m *Mailbox) ResetPassword(ctx context.Context, u user.User, token string, ttl time.Duration) error {
	return m.deliver(ctx, Mail{Kind: MailReset, To: u.Email, UserID: u.ID, Token: token, TTL: ttl})
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

// Next returns the oldest message not yet returned by Next, waiting for
// one until ctx ends.
func (m *Mailbox) Next(ctx context.Context) (Mail, error) {
	for {
		m.mu.Lock()
		if m.read < len(m.mails) {
			mail := m.mails[m.read]
			m.read++
			m.mu.Unlock()
			return mail, nil
		}
		arrived := m.arrived
		m.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Mail{}, fmt.Errorf("usertest: no mail arrived: %w", ctx.Err())
		}
	}
}

// All returns every message received so far, oldest first.
func (m *Mailbox) All() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.mails...)
}

var _ user.Notifier = (*Mailbox)(nil)
