package mailtest

import (
	"crypto/tls"
	"net/smtp"
	"strings"
	"testing"
)

const multipartMessage = "From: Usersvc <noreply@example.com>\r\n" +
	"To: ada@example.com\r\n" +
	"Subject: =?UTF-8?q?Caf=C3=A9?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hello =C3=A9\r\n" +
	"Token: tok-123\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+SGVsbG88L3A+\r\n" +
	"--b1--\r\n"

func TestPlainServerReceivesAndParses(t *testing.T) {
	srv := Start(t, Options{})
	if err := smtp.SendMail(srv.Addr, nil, "noreply@example.com", []string{"ada@example.com"}, []byte(multipartMessage)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	got := srv.Wait(t, "ADA@example.com")
	if got.From != "noreply@example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
		t.Errorf("envelope = %q -> %q, want noreply@example.com -> [ada@example.com]", got.From, got.To)
	}
	if got.Subject != "Café" || got.ContentType != "multipart/alternative" {
		t.Errorf("Subject, ContentType = %q, %q; want Café, multipart/alternative", got.Subject, got.ContentType)
	}
	if got.Text != "Hello é\r\nToken: tok-123" || got.HTML != "<p>Hello</p>" {
		t.Errorf("Text, HTML = %q, %q", got.Text, got.HTML)
	}
	if tok := Token(t, got); tok != "tok-123" {
		t.Errorf("Token = %q, want tok-123", tok)
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("Count after Wait = %d, want 0", n)
	}
}

func TestStartTLSServerRequiresAuth(t *testing.T) {
	srv := Start(t, Options{TLS: StartTLS, Username: "u", Password: "p"})
	send := func(auth smtp.Auth) error {
		c, err := smtp.Dial(srv.Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.StartTLS(srv.ClientTLS()); err != nil {
			return err
		}
		if auth != nil {
			if err := c.Auth(auth); err != nil {
				return err
			}
		}
		if err := c.Mail("noreply@example.com"); err != nil {
			return err
		}
		if err := c.Rcpt("bob@example.com"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte("Subject: hi\r\n\r\nbody\r\n")); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	if err := send(nil); err == nil {
		t.Error("MAIL without AUTH succeeded, want it refused")
	}
	if err := send(smtp.PlainAuth("", "u", "wrong", srv.Host)); err == nil {
		t.Error("AUTH with a wrong password succeeded")
	}
	if err := send(smtp.PlainAuth("", "u", "p", srv.Host)); err != nil {
		t.Fatalf("send with AUTH: %v", err)
	}
	if got := srv.Wait(t, "bob@example.com"); got.Subject != "hi" || !strings.HasPrefix(got.Text, "body") {
		t.Errorf("got %q / %q", got.Subject, got.Text)
	}
}

func TestImplicitTLSServer(t *testing.T) {
	srv := Start(t, Options{TLS: ImplicitTLS})
	conn, err := tls.Dial("tcp", srv.Addr, srv.ClientTLS())
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	c, err := smtp.NewClient(conn, srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("carol@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("Subject: x\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(t, "carol@example.com"); got.HTML != "<b>x</b>\r\n" || got.ContentType != "text/html" {
		t.Errorf("HTML = %q, ContentType = %q", got.HTML, got.ContentType)
	}
}
