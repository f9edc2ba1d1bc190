// Package mailtest runs an in-process SMTP server for tests, so that code
// which sends mail can be tested end to end against a real SMTP
// conversation (TLS, AUTH, MIME) and assert on what a recipient receives.
//
//	srv := mailtest.Start(t, mailtest.Options{TLS: mailtest.StartTLS, Username: "u", Password: "p"})
//	// point the mailer at srv.Host, srv.Port, trusting srv.CAs
//	got := srv.Wait(t, "ada@example.com")
//	token := mailtest.Token(t, got)
//
// The server accepts any sender and recipient, keeps every message in
// memory and stops when the test ends. Its TLS certificate is self-signed,
// made for 127.0.0.1 and localhost when the server starts; CAs trusts it.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how the server offers TLS.
type TLSMode int

const (
	// Plain offers no TLS at all: no STARTTLS in the EHLO answer.
	Plain TLSMode = iota
	// StartTLS offers STARTTLS on a plain connection (RFC 3207).
	StartTLS
	// ImplicitTLS speaks TLS from the first byte (SMTPS, RFC 8314).
	ImplicitTLS
)

// Options configures the server. The zero value is a plain server without
// authentication.
type Options struct {
	TLS TLSMode
	// Username and Password, when Username is set, make the server offer
	// AUTH PLAIN (only over TLS unless TLS is Plain) and refuse MAIL FROM
	// before a successful login with exactly these.
	Username, Password string
}

// WaitTimeout is how long Wait waits for a message before failing the test.
const WaitTimeout = 10 * time.Second

// TokenMarker starts the line of a message's text part that holds the
// token (usersvc's templates write "Token: <token>"); Token reads it.
const TokenMarker = "Token: "

// Received is one message as delivered: the SMTP envelope and the parsed
// content.
type Received struct {
	// From and To are the envelope (MAIL FROM and RCPT TO).
	From string
	To   []string
	// Header is the message's header; Subject is its decoded Subject.
	Header  mail.Header
	Subject string
	// ContentType is the top-level media type, e.g. multipart/alternative.
	ContentType string
	// Text and HTML are the decoded text/plain and text/html parts (or the
	// body, for a single-part message of that type).
	Text, HTML string
	// Raw is the message exactly as the client sent it after DATA.
	Raw []byte
}

// Server is a running in-process SMTP server.
type Server struct {
	// Addr is host:port to connect to; Host and Port are its halves.
	Addr string
	Host string
	Port int
	// CAs trusts the server's certificate (nil for Plain).
	CAs *x509.CertPool

	opts    Options
	mu      sync.Mutex
	inbox   []Received
	arrived chan struct{} // closed and replaced whenever a message arrives
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, arrived: make(chan struct{})}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = opts.TLS == Plain
	srv.ErrorLog = discard{}

	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	if opts.TLS != Plain {
		cfg, pool := selfSigned(t)
		s.CAs = pool
		if opts.TLS == StartTLS {
			srv.TLSConfig = cfg
		} else {
			ln = tls.NewListener(ln, cfg)
		}
	}
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns when Close is called
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
	return s
}

// ClientTLS returns a client TLS configuration that trusts the server and
// names it 127.0.0.1, as a mailer under test would use.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.CAs, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Wait returns the first message for recipient to (by envelope, ignoring
// letter case) not yet returned by Wait, waiting up to WaitTimeout for it
// to arrive. It fails the test when none does.
func (s *Server) Wait(t testing.TB, to string) Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		for i, m := range s.inbox {
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) {
					s.inbox = append(s.inbox[:i:i], s.inbox[i+1:]...)
					s.mu.Unlock()
					return m
				}
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatalf("mailtest: no message for %s within %s", to, WaitTimeout)
			return Received{}
		}
	}
}

// Settings are the usersvc settings that send account mail to s in clear,
// as to a local relay (Mailpit in docker-compose), from
// no-reply@example.com. For a server started without TLS.
func (s *Server) Settings() []string {
	return []string{
		"USERSVC_MAILER=smtp",
		"USERSVC_SMTP_HOST=" + s.Host,
		"USERSVC_SMTP_PORT=" + strconv.Itoa(s.Port),
		"USERSVC_SMTP_TLS=none",
		"USERSVC_MAIL_FROM=usersvc <no-reply@example.com>",
	}
}

// Count is how many received messages Wait has not returned yet.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inbox)
}

// All returns every received message that Wait has not returned yet,
// oldest first, without taking them: for tests that poll for a set of
// recipients.
func (s *Server) All() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.inbox...)
}

// Token returns what follows TokenMarker on its line of m's text part, and
// fails the test when there is no such line.
func Token(t testing.TB, m Received) string {
	t.Helper()
	for line := range strings.Lines(m.Text) {
		if tok, ok := strings.CutPrefix(strings.TrimSpace(line), TokenMarker); ok && tok != "" {
			return strings.TrimSpace(tok)
		}
	}
	t.Fatalf("mailtest: no %q line in the text part:\n%s", TokenMarker, m.Text)
	return ""
}

func (s *Server) deliver(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbox = append(s.inbox, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

// session is one SMTP connection's state.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: " + err.Error()}
	}
	m.From, m.To = se.from, se.to
	se.s.deliver(m)
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// parse reads a message's header and its text and HTML parts.
func parse(raw []byte) (Received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	m := Received{Header: msg.Header, Raw: raw}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Received{}, err
	}
	m.ContentType, err = m.collect(msg.Header, msg.Body)
	return m, err
}

// collect stores the text/plain and text/html parts of a body with header
// h, descending into multiparts, and returns the body's media type.
func (m *Received) collect(h map[string][]string, body io.Reader) (string, error) {
	ct := first(h, "Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return mediaType, nil
			}
			if err != nil {
				return "", err
			}
			if _, err := m.collect(p.Header, p); err != nil {
				return "", err
			}
		}
	}
	b, err := io.ReadAll(decode(first(h, "Content-Transfer-Encoding"), body))
	if err != nil {
		return "", err
	}
	switch mediaType {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return mediaType, nil
}

func decode(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}

func first(h map[string][]string, key string) string {
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}

// discard drops the server's own error log (e.g. a client hanging up).
type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
