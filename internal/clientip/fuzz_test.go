package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/clientip"
)

// FuzzIP feeds the resolver arbitrary X-Forwarded-For headers from a
// trusted and an untrusted peer. It must never panic; an untrusted peer is
// always the client whatever it forwards (no spoofing past the rate
// limits); behind the trusted load balancer the client is one of the
// forwarded hops (with or without a port) or Unparsable, and the peer only
// when there is no hop or a hop names it: never the proxy by default.
func FuzzIP(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "203.0.113.9, 10.0.0.2", "1.1.1.1, 203.0.113.9, 10.0.0.3",
		"garbage, 10.0.0.2", "::ffff:203.0.113.9", "fd00::1, 2001:db8::1", "10.0.0.2,,10.0.0.3", " , ",
		"[::1]:80", "1.2.3.4:5", "[2001:db8::1]", "1.2.3.4:99999", "unknown", "\x00", strings.Repeat("1.1.1.1,", 1000)} {
		f.Add(s)
	}
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	r := clientip.New(lb)
	f.Fuzz(func(t *testing.T, xff string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Forwarded-For", xff)

		req.RemoteAddr = "203.0.113.50:4000"
		if got := r.IP(req); got != netip.MustParseAddr("203.0.113.50") {
			t.Fatalf("untrusted peer forwarding %q resolved to %v, want the peer", xff, got)
		}
		if got := clientip.New(nil).IP(req); got != netip.MustParseAddr("203.0.113.50") {
			t.Fatalf("with no trusted proxy, %q resolved to %v, want the peer", xff, got)
		}

		req.RemoteAddr = "10.1.2.3:4000"
		got := r.IP(req)
		if got == clientip.Unparsable() || (got == netip.MustParseAddr("10.1.2.3") && strings.TrimSpace(xff) == "") {
			return
		}
		for hop := range strings.SplitSeq(xff, ",") {
			if names(strings.TrimSpace(hop), got) {
				return
			}
		}
		t.Fatalf("behind the load balancer %q resolved to %v, which is neither a hop, Unparsable, nor the peer of a blank header", xff, got)
	})
}

// names reports whether hop, in any form a proxy writes, is addr.
func names(hop string, addr netip.Addr) bool {
	if a, err := netip.ParseAddr(hop); err == nil && a.Unmap() == addr {
		return true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil && ap.Addr().Unmap() == addr {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(hop, "["), "]"))
	return err == nil && a.Unmap() == addr
}
