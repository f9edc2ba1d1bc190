package app

import (
	"testing"

	"github.com/usersvc/usersvc/internal/config"
)

// The relying party follows USERSVC_PUBLIC_URL; an address that is not a
// domain name (an IP) or production without a URL has none, so the
// service starts and passkeys answer 503 rather than the start failing.
func TestRelyingPartyFollowsThePublicURL(t *testing.T) {
	for _, c := range []struct {
		name, public, addr string
		env                string
		wantOK             bool
		wantID, wantOrigin string
	}{
		{"a domain", "https://auth.example.com", ":8080", config.Production, true, "auth.example.com", "https://auth.example.com"},
		{"a domain with a port", "http://localhost:3000", ":8080", config.Development, true, "localhost", "http://localhost:3000"},
		{"an IPv4 address", "http://127.0.0.1:8080", ":8080", config.Development, false, "", ""},
		{"an IPv6 address", "http://[::1]:8080", ":8080", config.Development, false, "", ""},
		{"development without a URL", "", ":9000", config.Development, true, "localhost", "http://localhost:9000"},
		{"production without a URL", "", ":8080", config.Production, false, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rp, ok, err := RelyingParty(config.Config{PublicURL: c.public, Addr: c.addr, Env: c.env})
			if err != nil || ok != c.wantOK {
				t.Fatalf("RelyingParty = %+v, %v, %v; want ok %v", rp, ok, err, c.wantOK)
			}
			if ok && (rp.RPID != c.wantID || len(rp.Origins) != 1 || rp.Origins[0] != c.wantOrigin) {
				t.Errorf("relying party %+v, want id %s origin %s", rp, c.wantID, c.wantOrigin)
			}
		})
	}
}
