// Package clientip finds the address of the client behind a request. The
// socket's peer is the client unless that peer is a trusted proxy (the load
// balancer), in which case X-Forwarded-For is read right to left: each hop
// a trusted proxy appended is skipped, and the first address a trusted
// proxy did not vouch for is the client. Anything left of it may be forged
// by the client and is never used.
//
// A hop may carry a port, as some proxies write it (203.0.113.7:5555,
// [2001:db8::1]:443); the port is dropped. A hop that does not parse where
// the client should be is not skipped, and the request is not put on the
// proxy's address either (that would share one rate-limit bucket among all
// its clients and the proxy's own requests): it resolves to Unparsable.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Unparsable is the address of every request whose client hop in
// X-Forwarded-For cannot be parsed: 100:: of the IPv6 discard-only prefix
// 100::/64 (RFC 6666), which no packet comes from, so it is never a real
// client nor a proxy. All such requests share its one rate-limit bucket;
// one fixed address (rather than, say, a hash of the hop) keeps a client
// that controls the text from choosing a fresh bucket per request.
func Unparsable() netip.Addr { return netip.AddrFrom16([16]byte{0x01}) }

// Resolver finds client addresses given the trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes X-Forwarded-For only from peers in
// trusted. With none, the socket's peer is always the client.
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// IP returns the client's address. The zero Addr means the peer address
// could not be parsed (never the case for a request net/http served).
func (r *Resolver) IP(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !r.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := forwardedFor(req.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			return Unparsable() // trust nothing left of it, and it is not the proxy
		}
		client = addr
		if !r.isTrusted(client) {
			break
		}
	}
	return client
}

// parseHop parses an X-Forwarded-For hop: an address, optionally with a
// port (ip:port, [v6]:port) or in brackets ([v6]), IPv4-mapped addresses
// unmapped.
func parseHop(hop string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(hop); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap(), true
	}
	if inner, ok := strings.CutPrefix(hop, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses a RemoteAddr ("ip:port", or a bare ip from a test).
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// forwardedFor splits every X-Forwarded-For header, in order, into hops.
// A header that is empty or blank holds no hop.
func forwardedFor(headers []string) []string {
	var hops []string
	for _, h := range headers {
		if strings.TrimSpace(h) == "" {
			continue
		}
		for hop := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// Key is what per-address rate limits count a client at addr by: an IPv4
// address, or the /64 of an IPv6 one, since one IPv6 client usually holds
// a whole /64 and could otherwise take a fresh address for every request.
// The API and the hosted pages count by it alike, so that they share one
// count per client.
func Key(addr netip.Addr) string {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
