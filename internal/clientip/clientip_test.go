package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/usersvc/usersvc/internal/clientip"
)

func TestIP(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the socket", nil, "203.0.113.7:5555", nil, "203.0.113.7"},
		{"spoofed header from an untrusted peer is ignored", lb, "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"spoofed header with no proxies configured is ignored", nil, "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted peer: the hop it appended", lb, "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client-forged hops left of the real one are ignored", lb, "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.9"}, "198.51.100.9"},
		{"chained trusted proxies are skipped right to left", lb, "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"several headers read as one list", lb, "10.1.2.3:80", []string{"1.2.3.4", "198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"all hops trusted: the leftmost", lb, "10.1.2.3:80", []string{"10.7.7.7, 10.9.9.9"}, "10.7.7.7"},
		{"malformed hop behind a trusted one: not the proxy", lb, "10.1.2.3:80", []string{"1.2.3.4, garbage, 10.9.9.9"}, "100::"},
		{"malformed client hop: not the proxy", lb, "10.1.2.3:80", []string{"garbage"}, "100::"},
		{"a proxy's 'unknown': not the proxy", lb, "10.1.2.3:80", []string{"unknown"}, "100::"},
		{"empty hop in a list: not the proxy", lb, "10.1.2.3:80", []string{"1.2.3.4, "}, "100::"},
		{"port out of range: not the proxy", lb, "10.1.2.3:80", []string{"198.51.100.9:99999"}, "100::"},
		{"malformed hop left of the client is never read", lb, "10.1.2.3:80", []string{"garbage, 198.51.100.9"}, "198.51.100.9"},
		{"blank header: the peer", lb, "10.1.2.3:80", []string{" "}, "10.1.2.3"},
		{"hop with a port", lb, "10.1.2.3:80", []string{"198.51.100.9:5555"}, "198.51.100.9"},
		{"IPv6 hop with a port", lb, "10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 hop in brackets", lb, "10.1.2.3:80", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"trusted hop with a port is skipped", lb, "10.1.2.3:80", []string{"198.51.100.9:5555, 10.9.9.9:80"}, "198.51.100.9"},
		{"IPv4-mapped hop with a port is unmapped", lb, "10.1.2.3:80", []string{"[::ffff:198.51.100.9]:80"}, "198.51.100.9"},
		{"trusted peer without header: the peer", lb, "10.1.2.3:80", nil, "10.1.2.3"},
		{"IPv6 peer", lb, "[2001:db8::1]:443", []string{"1.2.3.4"}, "2001:db8::1"},
		{"IPv4-mapped hop is unmapped", lb, "[fd00::1]:443", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"unparsable peer", lb, "pipe", nil, "invalid IP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientip.New(tt.trusted).IP(r).String(); got != tt.want {
				t.Errorf("IP = %s, want %s", got, tt.want)
			}
		})
	}
}

// A proxy that writes ip:port puts each client in its own bucket, as one
// that writes bare addresses does, never all in the proxy's.
func TestProxyWritingPortsKeepsClientsApart(t *testing.T) {
	r := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	seen := map[netip.Addr]bool{}
	for _, hop := range []string{"198.51.100.9:5555", "198.51.100.10:5555", "203.0.113.7:40000"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.1.2.3:80"
		req.Header.Set("X-Forwarded-For", hop)
		got := r.IP(req)
		if got == netip.MustParseAddr("10.1.2.3") || got == clientip.Unparsable() || seen[got] {
			t.Errorf("hop %q resolved to %v: the proxy, the unparsable bucket or another client's", hop, got)
		}
		seen[got] = true
	}
}

// Unparsable is an address no client or proxy can have.
func TestUnparsableIsNoRealAddress(t *testing.T) {
	discard := netip.MustParsePrefix("100::/64") // RFC 6666
	if a := clientip.Unparsable(); !discard.Contains(a) || !a.IsValid() {
		t.Errorf("Unparsable() = %v, want a valid address in %v", a, discard)
	}
}
