// Package browsertest drives the service's pages in headless Chromium
// from Go tests (go test, so make test runs them): the real service
// (apptest, on SQLite or PostgreSQL) served over HTTP on 127.0.0.1, a
// browser per test with a tab per person, helpers that fill forms, press
// keys and take screenshots at desktop and phone widths, the links of the
// mail the service sent, and an accessibility scan by axe-core run inside
// the page.
//
//	site := browsertest.Serve(t, apptest.SQLite)
//	page := browsertest.Launch(t).NewPage(t)
//	page.Open(site.URL + "/sign-in")
//	page.Fill("#login", "ada", "#password", "correct horse")
//	page.Submit("button[type=submit]")
//	page.CheckAccessibility(browsertest.Axe(t), "account")
//
// Without Chromium (/usr/bin/chromium) or axe-core (tools/node_modules)
// a test is skipped with a note, except in CI (CI set), where it fails.
package browsertest

import (
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/mail"
	"github.com/usersvc/usersvc/internal/user"
)

// MailTimeout bounds the wait for a mail (it comes through the job queue).
const MailTimeout = 15 * time.Second

// Site is the real service on a store, served over HTTP at URL
// (http://localhost:port, also its USERSVC_PUBLIC_URL), until the test
// ends.
type Site struct {
	*apptest.Server
	URL  string
	t    testing.TB
	sent *outbox
}

// Serve starts the service on a fresh store of kind (apptest.SQLite,
// apptest.Postgres) with the configuration variables env (name, value
// pairs) over apptest's defaults and USERSVC_PUBLIC_URL set to the site's
// address. Account mail is captured twice: by kind and token in the
// Mailbox (Server.Mail), and rendered by the service's own mail templates
// with the links as configured, which MailLink reads.
func Serve(t testing.TB, kind string, env ...string) *Site {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("browsertest: listen: %v", err)
	}
	// localhost, not the address: a secure context with a domain name, so
	// the passkey pages have their relying party.
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	env = append([]string{"USERSVC_PUBLIC_URL", base}, env...)
	sent := &outbox{}
	notifier, err := mail.NewNotifier(mailConfig(t, sent, env))
	if err != nil {
		t.Fatalf("browsertest: mail: %v", err)
	}
	tee := &mailTee{render: notifier}
	srv := apptest.New(t, kind, apptest.Env(env...), apptest.With(app.WithNotifier(tee)))
	tee.box = srv.Mail
	hs := httptest.NewUnstartedServer(srv.Handler)
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return &Site{Server: srv, URL: base, t: t, sent: sent}
}

// mailConfig is the service's mail configuration for env, as config.Load
// reads it (so the links are the ones the service would mail), with sent
// as the mailer.
func mailConfig(t testing.TB, sent *outbox, env []string) mail.NotifierConfig {
	t.Helper()
	environ := []string{"USERSVC_ENV=" + config.Development}
	for i := 0; i+1 < len(env); i += 2 {
		environ = append(environ, env[i]+"="+env[i+1])
	}
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatalf("browsertest: configuration: %v", err)
	}
	return mail.NotifierConfig{
		Mailer: sent, VerifyEmailURL: cfg.VerifyEmailURL, ResetPasswordURL: cfg.PasswordResetURL,
		UndoEmailChangeURL: cfg.UndoEmailChangeURL,
	}
}

// mailTee renders each mail as the service would send it, then hands it
// to the Mailbox (which tells waiting tests it arrived).
type mailTee struct {
	render *mail.Notifier
	box    interface {
		Send(ctx context.Context, m user.Mail) error
	}
}

func (m *mailTee) Send(ctx context.Context, ml user.Mail) error {
	if err := m.render.Send(ctx, ml); err != nil {
		return err
	}
	return m.box.Send(ctx, ml)
}

// outbox is a mail.Mailer that keeps every message.
type outbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

// linkPattern finds links in a message's text.
var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// MailLink waits for the next mail of kind (usertest.MailVerify,
// usertest.MailReset...) to address to and returns the link it carries,
// as the recipient would click it.
func (s *Site) MailLink(kind, to string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), MailTimeout)
	defer cancel()
	m, err := s.Mail.Take(ctx, kind, to)
	if err != nil {
		s.t.Fatalf("browsertest: no %s mail to %s: %v (arrived: %+v)", kind, to, err, s.Mail.All())
	}
	if m.Token == "" {
		s.t.Fatalf("browsertest: the %s mail to %s carries no token", kind, to)
	}
	escaped := url.QueryEscape(m.Token)
	s.sent.mu.Lock()
	defer s.sent.mu.Unlock()
	for _, msg := range s.sent.sent {
		if !strings.EqualFold(msg.To, to) {
			continue
		}
		for _, link := range linkPattern.FindAllString(msg.Text, -1) {
			if strings.Contains(link, escaped) {
				return link
			}
		}
	}
	s.t.Fatalf("browsertest: the %s mail to %s has no link with its token", kind, to)
	return ""
}
