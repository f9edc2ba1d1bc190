package mail_test

import (
	"context"
	"errors"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/mail"
	"github.com/usersvc/usersvc/internal/mail/mailtest"
)

// smtpTo returns an SMTP mailer for srv with mode and credentials.
func smtpTo(t *testing.T, srv *mailtest.Server, mode mail.TLSMode, user, pass string) *mail.SMTP {
	t.Helper()
	m, err := mail.NewSMTP(mail.SMTPConfig{
		Host: srv.Host, Port: srv.Port, TLS: mode, Username: user, Password: pass,
		From: "Usersvc Accounts <noreply@example.com>", Timeout: 5 * time.Second,
		TLSConfig: srv.ClientTLS(),
	})
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return m
}

var hello = mail.Message{
	To:      "ada@example.com",
	Subject: "Grüße, Ada",
	Text:    "Hello Ada,\nyour link: https://app.example.com/x?token=abc\n",
	HTML:    "<p>Hello <b>Ada</b></p>\n",
}

func TestSMTPStartTLSWithAuthDeliversMultipartAlternative(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS, Username: "mailer", Password: "s3cret"})
	if err := smtpTo(t, srv, mail.StartTLS, "mailer", "s3cret").Send(t.Context(), hello); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(t, "ada@example.com")
	if got.From != "noreply@example.com" {
		t.Errorf("MAIL FROM = %q, want noreply@example.com", got.From)
	}
	from, err := netmail.ParseAddress(got.Header.Get("From"))
	if err != nil || from.Name != "Usersvc Accounts" || from.Address != "noreply@example.com" {
		t.Errorf("From header = %q (%v), want Usersvc Accounts <noreply@example.com>", got.Header.Get("From"), err)
	}
	if to := got.Header.Get("To"); !strings.Contains(to, "ada@example.com") {
		t.Errorf("To header = %q, want ada@example.com", to)
	}
	if got.Subject != hello.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, hello.Subject)
	}
	if got.ContentType != "multipart/alternative" {
		t.Errorf("Content-Type = %q, want multipart/alternative", got.ContentType)
	}
	if norm(got.Text) != norm(hello.Text) || norm(got.HTML) != norm(hello.HTML) {
		t.Errorf("Text, HTML = %q, %q; want %q, %q", got.Text, got.HTML, hello.Text, hello.HTML)
	}
	if v := got.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q, want auto-generated", v)
	}
	if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
		t.Errorf("Message-ID or Date missing: %v", got.Header)
	}
}

func TestSMTPTextOnlyMessage(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS})
	msg := hello
	msg.HTML = ""
	if err := smtpTo(t, srv, mail.StartTLS, "", "").Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.Wait(t, "ada@example.com"); got.ContentType != "text/plain" || norm(got.Text) != norm(msg.Text) {
		t.Errorf("Content-Type %q, Text %q; want text/plain %q", got.ContentType, got.Text, msg.Text)
	}
}

func TestSMTPImplicitTLSDelivers(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.ImplicitTLS, Username: "mailer", Password: "s3cret"})
	if err := smtpTo(t, srv, mail.ImplicitTLS, "mailer", "s3cret").Send(t.Context(), hello); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.Wait(t, "ada@example.com"); got.Subject != hello.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, hello.Subject)
	}
}

func TestSMTPNoTLSDeliversToALocalRelay(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	if err := smtpTo(t, srv, mail.NoTLS, "", "").Send(t.Context(), hello); err != nil {
		t.Fatalf("Send: %v", err)
	}
	srv.Wait(t, "ada@example.com")
}

func TestSMTPWrongPasswordFails(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS, Username: "mailer", Password: "s3cret"})
	err := smtpTo(t, srv, mail.StartTLS, "mailer", "wrong").Send(t.Context(), hello)
	if err == nil {
		t.Fatal("Send with a wrong password succeeded, want an error")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error %q shows the password", err)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("the server received %d messages, want 0", n)
	}
}

func TestSMTPUntrustedCertificateFails(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS})
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "noreply@example.com", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(t.Context(), hello); err == nil {
		t.Fatal("Send to a server with a self-signed certificate succeeded with the system roots")
	}
}

// A server that does not offer STARTTLS gets nothing when starttls is
// configured: neither the credentials (it would take them in clear) nor
// the message.
func TestSMTPStartTLSRequiredRefusesAServerWithoutIt(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.Plain, Username: "mailer", Password: "s3cret"})
	err := smtpTo(t, srv, mail.StartTLS, "mailer", "s3cret").Send(t.Context(), hello)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want an error about STARTTLS", err)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("the server received %d messages in clear, want 0", n)
	}
}

func TestSMTPServerThatNeverAnswersTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accept and say nothing
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, mode := range []mail.TLSMode{mail.ImplicitTLS, mail.StartTLS} {
		m, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: atoi(t, port), TLS: mode, From: "noreply@example.com", Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = m.Send(t.Context(), hello)
		if err == nil {
			t.Fatalf("%s: Send to a silent server succeeded", mode)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("%s: Send took %s, want about the 300ms timeout", mode, elapsed)
		}
	}
}

func TestSMTPGivesUpWhenTheCallerCancels(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := smtpTo(t, srv, mail.StartTLS, "", "").Send(ctx, hello); !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled) = %v, want context.Canceled", err)
	}
}

func TestSMTPRefusesHeaderInjection(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS})
	m := smtpTo(t, srv, mail.StartTLS, "", "")
	for _, tt := range []struct {
		name string
		msg  mail.Message
	}{
		{"CRLF in To", mail.Message{To: "ada@example.com\r\nBcc: eve@example.com", Subject: "hi", Text: "x"}},
		{"LF in To", mail.Message{To: "ada@example.com\nBcc: eve@example.com", Subject: "hi", Text: "x"}},
		{"CRLF in Subject", mail.Message{To: "ada@example.com", Subject: "hi\r\nBcc: eve@example.com", Text: "x"}},
		{"CR in Subject", mail.Message{To: "ada@example.com", Subject: "hi\rBcc: eve@example.com", Text: "x"}},
		{"two recipients", mail.Message{To: "ada@example.com, eve@example.com", Subject: "hi", Text: "x"}},
		{"display name", mail.Message{To: "Eve <eve@example.com>", Subject: "hi", Text: "x"}},
		{"not an address", mail.Message{To: "ada", Subject: "hi", Text: "x"}},
		{"empty subject", mail.Message{To: "ada@example.com", Subject: " ", Text: "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Send(t.Context(), tt.msg); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("Send = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("the server received %d messages, want 0", n)
	}
}

func TestNewSMTPChecksItsConfig(t *testing.T) {
	good := mail.SMTPConfig{Host: "smtp.example.com", From: "noreply@example.com", Timeout: time.Second}
	if _, err := mail.NewSMTP(good); err != nil {
		t.Fatalf("NewSMTP(good) = %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(*mail.SMTPConfig)
	}{
		{"no host", func(c *mail.SMTPConfig) { c.Host = "" }},
		{"unknown mode", func(c *mail.SMTPConfig) { c.TLS = "ssl" }},
		{"port", func(c *mail.SMTPConfig) { c.Port = 70000 }},
		{"timeout", func(c *mail.SMTPConfig) { c.Timeout = 0 }},
		{"sender", func(c *mail.SMTPConfig) { c.From = "not an address" }},
	} {
		c := good
		tt.change(&c)
		if _, err := mail.NewSMTP(c); err == nil {
			t.Errorf("%s: NewSMTP succeeded, want an error", tt.name)
		}
	}
	for mode, port := range map[mail.TLSMode]int{mail.StartTLS: 587, mail.ImplicitTLS: 465, mail.NoTLS: 25} {
		if got := mode.DefaultPort(); got != port {
			t.Errorf("%s.DefaultPort() = %d, want %d", mode, got, port)
		}
	}
}

// norm makes line ends \n and trims the end, as MIME encoding may change
// both.
func norm(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
