package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/mail"
	"github.com/usersvc/usersvc/internal/mail/mailtest"
	"github.com/usersvc/usersvc/internal/user"
)

const (
	verifyURL = "https://app.example.com/verify-email?token={token}"
	resetURL  = "https://app.example.com/reset-password?t={token}&x=1"
	undoURL   = "https://app.example.com/undo-email-change?token={token}"
)

func newNotifier(t *testing.T, c mail.NotifierConfig) *mail.Notifier {
	t.Helper()
	c.VerifyEmailURL, c.ResetPasswordURL, c.UndoEmailChangeURL = verifyURL, resetURL, undoURL
	n, err := mail.NewNotifier(c)
	if err != nil {
		t.Fatalf("NewNotifier: %v", err)
	}
	return n
}

// to is a message of kind to ada@example.com with token (none for "").
func to(kind user.MailKind, token string, ttl time.Duration) user.Mail {
	return user.Mail{Kind: kind, To: "ada@example.com", UserID: uuid.New(), Token: token, TTL: ttl}
}

// The whole path: template, outbox, SMTP over STARTTLS, and what the
// recipient reads.
func TestNotifierVerifyEmailEndToEnd(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS, Username: "mailer", Password: "s3cret"})
	n := newNotifier(t, mail.NotifierConfig{Mailer: smtpTo(t, srv, mail.StartTLS, "mailer", "s3cret")})
	const token = "tok+en/with=odd&chars"
	if err := n.Send(t.Context(), to(user.MailVerifyEmail, token, 24*time.Hour)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(t, "ada@example.com")
	link := "https://app.example.com/verify-email?token=" + url.QueryEscape(token)
	if got.Subject != "Confirm your email address" || got.ContentType != "multipart/alternative" {
		t.Errorf("Subject %q, Content-Type %q", got.Subject, got.ContentType)
	}
	if tok := mailtest.Token(t, got); tok != token {
		t.Errorf("Token = %q, want %q", tok, token)
	}
	for _, want := range []string{"Hello,", link, "24 hours", "ada@example.com"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, got.Text)
		}
	}
	escapedLink := strings.ReplaceAll(link, "&", "&amp;")
	for _, want := range []string{`href="` + escapedLink + `"`, "24 hours"} {
		if !strings.Contains(got.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, got.HTML)
		}
	}
}

func TestNotifierResetPassword(t *testing.T) {
	mailer := &fakeMailer{}
	n := newNotifier(t, mail.NotifierConfig{Mailer: mailer})
	if err := n.Send(t.Context(), to(user.MailResetPassword, "a b", 30*time.Minute)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := mailer.sent()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	for _, want := range []string{"Hello,", "https://app.example.com/reset-password?t=a+b&x=1", "Token: a b", "30 minutes"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Subject != "Reset your password" || m.To != "ada@example.com" {
		t.Errorf("Subject %q To %q", m.Subject, m.To)
	}
}

// An invalid message is undeliverable (the queue does not retry it); a
// mail server's failure is not.
func TestNotifierNamesUndeliverableMail(t *testing.T) {
	invalid := newNotifier(t, mail.NotifierConfig{Mailer: &fakeMailer{err: fmt.Errorf("%w: test", mail.ErrInvalidMessage), failures: 100}})
	if err := invalid.Send(t.Context(), to(user.MailVerifyEmail, "tok", time.Hour)); !errors.Is(err, user.ErrUndeliverable) {
		t.Errorf("invalid message: got %v, want ErrUndeliverable", err)
	}
	down := newNotifier(t, mail.NotifierConfig{Mailer: &fakeMailer{failures: 100}})
	if err := down.Send(t.Context(), to(user.MailVerifyEmail, "tok", time.Hour)); err == nil || errors.Is(err, user.ErrUndeliverable) {
		t.Errorf("a failing server: got %v, want a retryable error", err)
	}
}

func TestNewNotifierChecksItsConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    mail.NotifierConfig
	}{
		{"no mailer", mail.NotifierConfig{VerifyEmailURL: verifyURL, ResetPasswordURL: resetURL, UndoEmailChangeURL: undoURL}},
		{"bad verify link", mail.NotifierConfig{Mailer: &fakeMailer{}, VerifyEmailURL: "/verify?t={token}", ResetPasswordURL: resetURL, UndoEmailChangeURL: undoURL}},
		{"bad reset link", mail.NotifierConfig{Mailer: &fakeMailer{}, VerifyEmailURL: verifyURL, ResetPasswordURL: "https://app.example.com/reset", UndoEmailChangeURL: undoURL}},
		{"bad undo link", mail.NotifierConfig{Mailer: &fakeMailer{}, VerifyEmailURL: verifyURL, ResetPasswordURL: resetURL, UndoEmailChangeURL: "undo?t={token}"}},
	} {
		if _, err := mail.NewNotifier(tt.c); err == nil {
			t.Errorf("%s: NewNotifier succeeded, want an error", tt.name)
		}
	}
}

// fakeMailer records messages; it fails its first failures calls with err
// (or a generic error), and when release is set waits for it (or ctx).
type fakeMailer struct {
	failures int
	err      error
	release  chan struct{}
	started  chan struct{}

	mu   sync.Mutex
	n    int
	msgs []mail.Message
}

func (f *fakeMailer) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	f.n++
	fail := f.n <= f.failures
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		if f.err != nil {
			return f.err
		}
		return errors.New("451 try again later")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return nil
}

func (f *fakeMailer) sent() []mail.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mail.Message(nil), f.msgs...)
}

// TestMailHasNoUserText: no message, whatever its kind, carries text a
// user wrote; notices carry no token and the undo notice its link.
func TestMailHasNoUserText(t *testing.T) {
	mailer := &fakeMailer{}
	n := newNotifier(t, mail.NotifierConfig{Mailer: mailer})
	for _, m := range []user.Mail{
		to(user.MailVerifyEmail, "t1", time.Hour), to(user.MailResetPassword, "t2", time.Hour),
		to(user.MailEmailChanged, "t3", 7*24*time.Hour), to(user.MailPasswordChanged, "", 0),
	} {
		if err := n.Send(t.Context(), m); err != nil {
			t.Fatalf("Send %s: %v", m.Kind, err)
		}
	}
	sent := mailer.sent()
	if len(sent) != 4 {
		t.Fatalf("sent %d, want 4", len(sent))
	}
	// The notifier's workers send concurrently, so the order of sent is not
	// the order of Send.
	bySubject := map[string]string{}
	for _, m := range sent {
		bySubject[m.Subject] = m.Text
	}
	emailChanged, passwordChanged := bySubject["The email address of your account was changed"], bySubject["The password of your account was changed"]
	if !strings.Contains(emailChanged, "https://app.example.com/undo-email-change?token=t3") || !strings.Contains(emailChanged, "7 days") {
		t.Errorf("the email-changed notice lacks its undo link:\n%s", emailChanged)
	}
	if passwordChanged == "" || strings.Contains(passwordChanged, "Token") || strings.Contains(passwordChanged, "http") {
		t.Errorf("the password notice is missing or carries a link or token:\n%s", passwordChanged)
	}
	if err := n.Send(t.Context(), to(user.MailPasswordChanged, "t4", time.Hour)); err == nil {
		t.Error("a token for a message without a link was accepted")
	}
}
