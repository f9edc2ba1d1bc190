package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Resolver looks host names up; *net.Resolver is one. Tests give a stub,
// so that no test asks a real DNS server.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// MaxResponseBytes is the most of a response body read: the rest is
// dropped (the body only matters for keeping the connection reusable).
const MaxResponseBytes = 64 << 10

// Client timeouts: a receiver must answer quickly (Standard Webhooks
// suggests processing asynchronously); a slow one is retried later.
const (
	dialTimeout     = 5 * time.Second
	headerTimeout   = 10 * time.Second
	DefaultTimeout  = 15 * time.Second // the whole request
	maxIdlePerHost  = 4
	idleConnTimeout = 60 * time.Second
)

// userAgent identifies the sender to receivers.
const userAgent = "usersvc-webhooks/1"

// ClientOptions tune a Client.
type ClientOptions struct {
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other non-public addresses (USERSVC_WEBHOOK_ALLOW_PRIVATE=on).
	// Metadata addresses stay refused.
	AllowPrivate bool
	// RequireHTTPS refuses http:// destinations (production).
	RequireHTTPS bool
	// Timeout bounds a whole request; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver looks names up; nil means net.DefaultResolver.
	Resolver Resolver

	// BeforeConnect, when set, runs after the guard let a connection
	// through and before it is made: tests fail there instead of letting
	// a packet leave for an address they did not expect.
	BeforeConnect func(network, address string) error
}

// Guard is what a test puts in front of every webhook connection: a stub
// Resolver and a BeforeConnect hook (ClientOptions).
type Guard struct {
	Resolver      Resolver
	BeforeConnect func(network, address string) error
}

// Client sends deliveries: no proxy from the environment (a proxy would
// connect on our behalf, past the guard), every connection checked by the
// guard, redirects not followed, responses read up to MaxResponseBytes.
type Client struct {
	http         *http.Client
	requireHTTPS bool
}

// NewClient returns a Client with opts.
func NewClient(opts ClientOptions) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	var resolver Resolver = net.DefaultResolver
	if opts.Resolver != nil {
		resolver = opts.Resolver
	}
	guard := guardControl(opts.AllowPrivate)
	dialer := &net.Dialer{
		Timeout: dialTimeout,
		Control: func(network, address string, c syscall.RawConn) error {
			if err := guard(network, address, c); err != nil {
				return err
			}
			if opts.BeforeConnect != nil {
				return opts.BeforeConnect(network, address)
			}
			return nil
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialVia(resolver, dialer),
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       idleConnTimeout,
		ForceAttemptHTTP2:     true,
	}
	return &Client{
		requireHTTPS: opts.RequireHTTPS,
		http: &http.Client{
			Transport: transport,
			Timeout:   opts.Timeout,
			// A redirect is an answer, not a new destination: a receiver
			// could otherwise send us anywhere the guard did not see.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// dialVia resolves the host with r and dials each address in turn through
// d, whose Control hook checks the address actually connected to.
func dialVia(r Resolver, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else if ips, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, fmt.Errorf("%s: no address", host)
		}
		return nil, errors.Join(errs...)
	}
}

// Result is what one attempt to send got.
type Result struct {
	Status   int           // the HTTP status, 0 when none came
	Err      string        // why it failed, "" on a 2xx
	Duration time.Duration // from sending to the end of the read body
}

// OK reports whether the receiver accepted the message (any 2xx).
func (r Result) OK() bool { return r.Err == "" && r.Status >= 200 && r.Status < 300 }

// maxErrorText is the longest error text kept with an attempt.
const maxErrorText = 500

// CheckURL says whether raw is a URL deliveries may go to: absolute,
// http or https (https only when requireHTTPS), with a host, no user
// information, no fragment.
func CheckURL(raw string, requireHTTPS bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must be an http or https URL")
	case u.Scheme == "http" && requireHTTPS:
		return errors.New("must be an https URL in production")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not hold a user name or password")
	case u.Fragment != "" || u.RawFragment != "":
		return errors.New("must not have a fragment")
	}
	return nil
}

// Send posts body to rawURL with the signed headers of message id at
// time at, and reports what came back. It never returns the response
// body; errors are text fit to show an administrator.
func (c *Client) Send(ctx context.Context, rawURL, id string, at time.Time, body []byte, secrets ...Secret) Result {
	if err := CheckURL(rawURL, c.requireHTTPS); err != nil {
		return Result{Err: clip("url " + err.Error())}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: "url is not usable"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := signedHeaders(req.Header, id, at, body, secrets...); err != nil {
		return Result{Err: err.Error()}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{Err: clip(describe(err)), Duration: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	_ = resp.Body.Close()
	r := Result{Status: resp.StatusCode, Duration: time.Since(start)}
	switch {
	case r.Status >= 300 && r.Status < 400:
		r.Err = "redirect not followed (status " + strconv.Itoa(r.Status) + ")"
	case r.Status < 200 || r.Status >= 300:
		r.Err = "status " + strconv.Itoa(r.Status)
	}
	return r
}

// describe is err without the request's URL, which *url.Error repeats
// and which may hold a token in its query.
func describe(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return err.Error()
}

// clip makes s storable: valid UTF-8 (a receiver's answer, which a
// transport error may quote, need not be, and PostgreSQL refuses text that
// is not) cut to at most maxErrorText bytes at a character's start.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
