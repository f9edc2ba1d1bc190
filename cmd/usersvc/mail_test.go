package main

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/mail/mailtest"
	"github.com/usersvc/usersvc/internal/user"
)

// smtpEnv starts an in-process SMTP server and returns the settings that
// make usersvc send account mail to it, in clear as to a local relay
// (Mailpit in docker-compose), and the server.
func smtpEnv(t *testing.T) ([]string, *mailtest.Server) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{})
	return []string{
		"USERSVC_MAILER=smtp",
		"USERSVC_SMTP_HOST=" + srv.Host,
		"USERSVC_SMTP_PORT=" + strconv.Itoa(srv.Port),
		"USERSVC_SMTP_TLS=none",
		"USERSVC_MAIL_FROM=usersvc <no-reply@example.com>",
	}, srv
}

// newNotifier turns the settings into a working outbox: a message reaches
// the configured server from the configured sender, with the configured
// link.
func TestNewNotifierSendsThroughTheConfiguredServer(t *testing.T) {
	env, srv := smtpEnv(t)
	cfg, err := config.Load(append(env, "USERSVC_VERIFY_EMAIL_URL=https://app.example.com/v?t={token}"), "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := newNotifier(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newNotifier: %v", err)
	}
	u := user.User{ID: uuid.New(), Email: "ada@example.com", Username: "ada"}
	if err := n.VerifyEmail(t.Context(), u, "tok-1", time.Hour); err != nil {
		t.Fatal(err)
	}
	closeNotifier(n, 10*time.Second, slog.New(slog.DiscardHandler))
	got := srv.Wait(t, "ada@example.com")
	if got.From != "no-reply@example.com" || mailtest.Token(t, got) != "tok-1" || !strings.Contains(got.Text, "https://app.example.com/v?t=tok-1") {
		t.Errorf("got From %q, text:\n%s", got.From, got.Text)
	}
}

// The outbox closes after the HTTP server has stopped (so requests still
// being served can queue mail) and before the database closes.
func TestServeClosesTheMailOutboxBetweenServerAndDatabase(t *testing.T) {
	env, _ := smtpEnv(t)
	srv := start(t, append([]string{"USERSVC_DATA_DIR=" + t.TempDir()}, env...))
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for line := range strings.Lines(srv.logs.String()) {
		var entry struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &entry); err == nil {
			msgs = append(msgs, entry.Msg)
		}
	}
	stopped, closed, db := slices.Index(msgs, "stopped"), slices.Index(msgs, "mail outbox closed"), slices.Index(msgs, "database closed")
	if stopped < 0 || closed < stopped || db < closed {
		t.Errorf("want stopped, mail outbox closed, database closed in that order; got %q", msgs)
	}
}

func TestServeRefusesIncompleteSMTPSettings(t *testing.T) {
	err := run(t.Context(), []string{"serve"}, []string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_MAILER=smtp", "USERSVC_MAIL_FROM=no-reply@example.com"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "USERSVC_SMTP_HOST") {
		t.Errorf("serve = %v, want an error naming USERSVC_SMTP_HOST", err)
	}
}
