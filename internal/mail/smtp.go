package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode is how the SMTP mailer protects its connection.
type TLSMode string

const (
	// StartTLS connects in clear and upgrades with STARTTLS (RFC 3207),
	// usually on port 587. The upgrade is required: a server that does not
	// offer it is not sent anything, not even the credentials.
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, RFC 8314),
	// usually on port 465.
	ImplicitTLS TLSMode = "implicit"
	// NoTLS sends everything, the message and its token included, in
	// clear. Only for a relay on the same host or private network, such as
	// Mailpit in development.
	NoTLS TLSMode = "none"
)

// DefaultPort is the usual submission port of each TLS mode.
func (m TLSMode) DefaultPort() int {
	switch m {
	case ImplicitTLS:
		return 465
	case NoTLS:
		return 25
	default:
		return 587
	}
}

// SMTPConfig is where and how the SMTP mailer sends.
type SMTPConfig struct {
	Host string
	Port int     // 0: TLS.DefaultPort()
	TLS  TLSMode // "": StartTLS
	// Username and Password log in with AUTH PLAIN when Username is set.
	// The credentials are only ever sent over TLS (or to localhost).
	Username, Password string
	// From is the sender, with an optional display name:
	// "Example <no-reply@example.com>".
	From string
	// Timeout bounds connecting, and separately the whole send.
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (the system's roots,
	// ServerName Host, TLS 1.2 or later), e.g. to trust a test server.
	TLSConfig *tls.Config
}

// SMTP is a Mailer that submits each message to an SMTP server over a new
// connection.
type SMTP struct {
	c    SMTPConfig
	from *mail.Address
}

// NewSMTP checks c and returns the mailer.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	if c.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if c.TLS == "" {
		c.TLS = StartTLS
	}
	if c.TLS != StartTLS && c.TLS != ImplicitTLS && c.TLS != NoTLS {
		return nil, fmt.Errorf("smtp: unknown TLS mode %q", c.TLS)
	}
	if c.Port == 0 {
		c.Port = c.TLS.DefaultPort()
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d out of range", c.Port)
	}
	if c.Timeout <= 0 {
		return nil, errors.New("smtp: the timeout must be positive")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: sender %q: %w", c.From, err)
	}
	if c.TLSConfig == nil {
		c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		c.TLSConfig = c.TLSConfig.Clone()
	}
	if c.TLSConfig.ServerName == "" {
		c.TLSConfig.ServerName = c.Host
	}
	return &SMTP{c: c, from: from}, nil
}

// Send delivers m: multipart/alternative when it has an HTML part. It
// gives up when ctx ends or the configured timeout passes, whichever is
// first.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	// The library bounds connecting and each exchange, but not the whole
	// conversation: closing the connection when ctx ends does.
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.c.TLS == ImplicitTLS {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.c.TLSConfig}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		stops = append(stops, context.AfterFunc(ctx, func() { _ = conn.Close() }))
		return conn, nil
	}
	client, err := gomail.NewClient(s.c.Host, s.options(dial)...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return s.fail(ctx, "connect", err)
	}
	if err := client.SendWithSMTPClient(conn, msg); err != nil {
		_ = conn.Close()
		return s.fail(ctx, "send", err)
	}
	// The message is accepted: a failed QUIT must not make it sent twice.
	_ = client.CloseWithSMTPClient(conn)
	return nil
}

func (s *SMTP) options(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.c.Port),
		gomail.WithTimeout(s.c.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(s.c.TLSConfig),
	}
	switch s.c.TLS {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.c.Username != "" {
		// PLAIN refuses to send the password over a connection without TLS
		// (except to localhost).
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(s.c.Username), gomail.WithPassword(s.c.Password))
	}
	return opts
}

// message builds the MIME message: the library encodes the header fields
// and the parts (quoted-printable UTF-8).
func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// fail wraps a delivery error, saying so when it was the timeout that
// ended the attempt.
func (s *SMTP) fail(ctx context.Context, stage string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("smtp %s %s: %w (%w)", stage, net.JoinHostPort(s.c.Host, fmt.Sprint(s.c.Port)), ctxErr, err)
	}
	return fmt.Errorf("smtp %s %s: %w", stage, net.JoinHostPort(s.c.Host, fmt.Sprint(s.c.Port)), err)
}
