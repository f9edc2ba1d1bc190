// Package clientip finds the address of the client behind a request. The
// socket's peer is the client unless that peer is a trusted proxy (the load
// balancer), in which case X-Forwarded-For is read right to left: each hop
// a trusted proxy appended is skipped, and the first address a trusted
// proxy did not vouch for is the client. Anything left of it may be forged
// by the client and is never used.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

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
		addr, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		client = addr.Unmap()
		if !r.isTrusted(client) {
			break
		}
	}
	return client
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
func forwardedFor(headers []string) []string {
	var hops []string
	for _, h := range headers {
		for hop := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}
