package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/mail"
)

// outbox is a mail.Mailer that hands each message to the test.
type outbox chan mail.Message

func (o outbox) Send(ctx context.Context, m mail.Message) error {
	select {
	case o <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o outbox) next(t *testing.T) mail.Message {
	t.Helper()
	select {
	case m := <-o:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail")
		return mail.Message{}
	}
}

// With USERSVC_PUBLIC_URL set and no link variable, the mails link to the
// hosted pages, and following the link works.
func TestMailLinksLandOnThePages(t *testing.T) {
	box := make(outbox, 4)
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_PUBLIC_URL", "https://auth.example.com"),
		apptest.With(app.WithNotifier(nil), app.WithMailer(box)))
	b := s.browser()
	if p := b.post("/sign-up", url.Values{"email": {"ada@example.com"}, "username": {"ada"}, "password": {password}}); p.status != http.StatusCreated {
		t.Fatalf("sign up: %d\n%s", p.status, p.body)
	}
	link := regexp.MustCompile(`https://auth\.example\.com/verify-email\?token=[A-Za-z0-9_%-]+`).FindString(box.next(t).Text)
	if link == "" {
		t.Fatal("the verification mail has no link to https://auth.example.com/verify-email?token=")
	}
	p := b.get(strings.TrimPrefix(link, "https://auth.example.com"))
	token := hiddenValue(t, p.body, "token")
	if p := b.post("/verify-email", url.Values{"token": {token}}); p.status != http.StatusOK {
		t.Fatalf("verify through the mailed link: %d\n%s", p.status, p.body)
	}
	b.post("/forgot-password", url.Values{"email": {"ada@example.com"}})
	if m := box.next(t); !strings.Contains(m.Text, "https://auth.example.com/reset-password?token=") {
		t.Errorf("the reset mail does not link to the page:\n%s", m.Text)
	}
}
