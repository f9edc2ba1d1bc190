package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// stubResolver answers from a table: no test asks a real DNS server.
type stubResolver map[string][]string

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range r[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// noConnect is a BeforeConnect hook that fails the test: the guard should
// have refused the connection before it was made.
func noConnect(t *testing.T) func(network, address string) error {
	return func(_, address string) error {
		t.Errorf("the guard let a connection to %s through", address)
		return fmt.Errorf("test: connection to %s stopped", address)
	}
}

// onlyTo is a BeforeConnect hook letting connections reach addr alone.
func onlyTo(t *testing.T, addr string) func(network, address string) error {
	return func(_, address string) error {
		if address != addr {
			t.Errorf("connection to %s, want only %s", address, addr)
			return fmt.Errorf("test: connection to %s stopped", address)
		}
		return nil
	}
}

func TestCheckAddr(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.1.1",
		"169.254.169.254", "fd00:ec2::254", "100.64.0.1", "100.127.255.254", "fc00::1", "fd12:3456::1",
		"fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
		"64:ff9b::a00:1", "255.255.255.255", "198.18.0.1",
		"::7f00:1", "::a00:1", "::ffff:0:7f00:1", "::ffff:0:c0a8:101", "2002:7f00:1::1", "2002:a00:1::",
	}
	for _, a := range refused {
		if err := checkAddr(netip.MustParseAddr(a), false); err == nil {
			t.Errorf("checkAddr(%s) = nil, want refused", a)
		}
	}
	public := []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1", "64:ff9b::808:808", "2002:808:808::1"}
	for _, a := range public {
		if err := checkAddr(netip.MustParseAddr(a), false); err != nil {
			t.Errorf("checkAddr(%s) = %v, want allowed", a, err)
		}
	}
	// allow-private lets private ranges through, never the metadata service.
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "fd12::1"} {
		if err := checkAddr(netip.MustParseAddr(a), true); err != nil {
			t.Errorf("allow-private: checkAddr(%s) = %v, want allowed", a, err)
		}
	}
	// The clouds' metadata and credential services besides the best
	// known: ECS task credentials, EKS Pod Identity, AWS over IPv6,
	// Alibaba Cloud, Azure's WireServer (a public address), any link-local.
	for _, a := range []string{"169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "169.254.170.2", "169.254.170.23",
		"fd00:ec2::23", "100.100.100.200", "168.63.129.16", "169.254.1.1", "fe80::1",
		"::a9fe:a9fe", "::ffff:0:a9fe:a9fe", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe"} {
		if err := checkAddr(netip.MustParseAddr(a), true); err == nil {
			t.Errorf("allow-private: checkAddr(%s) = nil, want refused", a)
		}
		if err := checkAddr(netip.MustParseAddr(a), false); err == nil {
			t.Errorf("checkAddr(%s) = nil, want refused", a)
		}
	}
	// And through the client, with the dialer hook failing the test
	// before any connection is made.
	c := NewClient(ClientOptions{AllowPrivate: true, Resolver: stubResolver{}, BeforeConnect: noConnect(t)})
	res := c.Send(t.Context(), "http://169.254.170.2/v2/credentials/x", "msg_1", time.Now(), []byte(`{}`), NewSecret())
	if !strings.Contains(res.Err, ErrRefused.Error()) {
		t.Errorf("allow-private: Send to the ECS credentials endpoint = %+v, want refused by the guard", res)
	}
}

// An error's text is stored: valid UTF-8, cut at a character's start.
func TestClipKeepsTextStorable(t *testing.T) {
	for _, in := range []string{strings.Repeat("é", 600), "status \xff\xfe" + strings.Repeat("a", 600), "short é"} {
		got := clip(in)
		if !utf8.ValidString(got) || len(got) > maxErrorText {
			t.Errorf("clip(%.20q...) = %d bytes, valid UTF-8 %v; want at most %d, valid", in, len(got), utf8.ValidString(got), maxErrorText)
		}
		if len(in) <= maxErrorText && utf8.ValidString(in) && got != in {
			t.Errorf("clip(%q) = %q, want it unchanged", in, got)
		}
	}
}

// A name that resolves to a private or metadata address is refused before
// any connection: the dialer's hook that would connect fails the test.
func TestSendRefusesPrivateDestinationsBeforeConnecting(t *testing.T) {
	r := stubResolver{
		"private.example":  {"10.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"loop.example":     {"127.0.0.1"},
		"cgnat.example":    {"100.64.1.1"},
		"ula.example":      {"fd00::1"},
		"mixed.example":    {"10.0.0.1", "192.168.0.1"},
	}
	c := NewClient(ClientOptions{Resolver: r, BeforeConnect: noConnect(t)})
	urls := []string{
		"https://private.example/hook", "https://metadata.example/latest/meta-data", "http://loop.example:8080/",
		"https://cgnat.example/", "https://ula.example/", "https://mixed.example/",
		"http://169.254.169.254/latest/meta-data", "http://[::1]:9000/", "http://10.1.2.3/",
		"http://[fd00:ec2::254]/",
	}
	for _, u := range urls {
		res := c.Send(t.Context(), u, "msg_1", time.Now(), []byte(`{}`), NewSecret())
		if res.OK() || !strings.Contains(res.Err, ErrRefused.Error()) {
			t.Errorf("Send(%s) = %+v, want refused", u, res)
		}
	}
}

// A zoned IPv6 literal is checked as its address: the guard in the
// dialer refuses it before connecting (it used to pass every prefix
// check, which matches no zoned address).
func TestSendRefusesZonedAddressesBeforeConnecting(t *testing.T) {
	for _, allowPrivate := range []bool{false, true} {
		c := NewClient(ClientOptions{AllowPrivate: allowPrivate, Resolver: stubResolver{}, BeforeConnect: noConnect(t)})
		for _, u := range []string{"http://[2002:a9fe:a9fe::1%25eth0]/", "http://[64:ff9b::a9fe:a9fe%25eth0]/", "http://[fd00:ec2::254%25eth0]/"} {
			res := c.Send(t.Context(), u, "msg_1", time.Now(), []byte(`{}`), NewSecret())
			if res.OK() || !strings.Contains(res.Err, ErrRefused.Error()) {
				t.Errorf("allow-private %v: Send(%s) = %+v, want refused", allowPrivate, u, res)
			}
		}
	}
}

// The check is on the address dialled, not on an earlier lookup: a name
// rebound to loopback reaches no server.
func TestSendRefusesANameReboundToLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := NewClient(ClientOptions{Resolver: stubResolver{"rebind.example": {"127.0.0.1"}}})
	res := c.Send(t.Context(), "http://rebind.example:"+port+"/", "msg_1", time.Now(), []byte(`{}`), NewSecret())
	if res.OK() || !strings.Contains(res.Err, "loopback") {
		t.Errorf("Send = %+v, want refused as loopback", res)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests, want 0", n)
	}
}

// A redirect, here to the metadata service, is reported, not followed.
func TestSendDoesNotFollowRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivate: true, BeforeConnect: onlyTo(t, srv.Listener.Addr().String())})
	res := c.Send(t.Context(), srv.URL, "msg_1", time.Now(), []byte(`{}`), NewSecret())
	if res.OK() || res.Status != http.StatusFound || !strings.Contains(res.Err, "redirect not followed") {
		t.Errorf("Send = %+v, want a failed attempt with status 302, redirect not followed", res)
	}
}

// An endless response body is read up to MaxResponseBytes, then dropped:
// the attempt ends and succeeds.
func TestSendReadsAtMost64KB(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 4096)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivate: true, Timeout: 10 * time.Second})
	res := c.Send(t.Context(), srv.URL, "msg_1", time.Now(), []byte(`{}`), NewSecret())
	if !res.OK() {
		t.Fatalf("Send = %+v, want success", res)
	}
	if res.Duration >= 10*time.Second {
		t.Errorf("Send took %s: it read the endless body until the timeout", res.Duration)
	}
}

// A receiver that does not answer in time is a failed attempt.
func TestSendTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := NewClient(ClientOptions{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	res := c.Send(t.Context(), srv.URL, "msg_1", time.Now(), []byte(`{}`), NewSecret())
	if res.OK() || res.Status != 0 || res.Err == "" {
		t.Errorf("Send = %+v, want a failed attempt without status", res)
	}
}

// Proxies from the environment are ignored: a proxy would connect on our
// behalf, past the guard.
func TestSendIgnoresProxyVariables(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://10.9.9.9:3128")
	t.Setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	c := NewClient(ClientOptions{AllowPrivate: true, BeforeConnect: onlyTo(t, srv.Listener.Addr().String())})
	if res := c.Send(t.Context(), srv.URL, "msg_1", time.Now(), []byte(`{}`), NewSecret()); !res.OK() {
		t.Errorf("Send = %+v, want success straight to the server", res)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url   string
		https bool
		ok    bool
	}{
		{"https://hooks.example.com/usersvc", true, true},
		{"http://hooks.example.com/usersvc", false, true},
		{"http://hooks.example.com/usersvc", true, false},
		{"ftp://hooks.example.com/", false, false},
		{"https://user:pass@hooks.example.com/", false, false},
		{"https:///path", false, false},
		{"/relative", false, false},
		{"https://hooks.example.com/#frag", false, false},
	} {
		if err := CheckURL(tt.url, tt.https); (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q, https=%v) = %v, want ok=%v", tt.url, tt.https, err, tt.ok)
		}
	}
	c := NewClient(ClientOptions{RequireHTTPS: true, BeforeConnect: noConnect(t)})
	if res := c.Send(t.Context(), "http://hooks.example.com/", "m", time.Now(), nil, NewSecret()); res.OK() || !strings.Contains(res.Err, "https") {
		t.Errorf("Send of http:// with RequireHTTPS = %+v, want refused", res)
	}
}
