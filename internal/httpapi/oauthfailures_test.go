package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/security"
)

// TestProviderFailuresAreLimitedPerAddress: the OpenID provider's grants
// at /token, /oauth/introspect and /oauth/revoke count the requests they
// refuse (an unknown client, a wrong secret, a bad code or refresh token)
// per client address, against USERSVC_RATE_LIMIT_OAUTH_FAILURES: past it,
// that address is answered 429 with Retry-After at all three, its right
// credentials too, until the window slides. A relying party exchanging
// many times more successfully from its own address is never held back.
// These endpoints used to have no per-address limit at all.
func TestProviderFailuresAreLimitedPerAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m", "USERSVC_RATE_LIMIT_OAUTH_FAILURES", "3/1m"),
			apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://auth.example.test"))
		sa := s.createClient(s.adminToken(), `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		const prober, relyingParty = "198.51.100.9", "203.0.113.10"
		send := func(addr, path string, form url.Values, id, secret string) response {
			t.Helper()
			h := http.Header{peerHeader: {addr}}
			if id != "" {
				h = basicFrom(addr, id, secret)
			}
			return s.do(req{method: "POST", path: path, body: form.Encode(), contentType: formType, header: h})
		}
		cc := url.Values{"grant_type": {"client_credentials"}}

		// Many successes from one address: none refused, none counted.
		for i := range 16 {
			if res := send(relyingParty, tokenPath, cc, sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
				t.Fatalf("the relying party's exchange %d: got %v, want 200", i+1, res)
			}
		}
		// A prober's failures, one at each endpoint.
		probes := []response{
			send(prober, tokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {"guess"}, "client_id": {"made-up"}, "redirect_uri": {"https://x.example/cb"}}, "", ""),
			send(prober, "/oauth/introspect", url.Values{"token": {"x"}}, "made-up", "guess"),
			send(prober, "/oauth/revoke", url.Values{"token": {"x"}, "client_id": {"made-up"}}, "", ""),
		}
		for i, res := range probes {
			if res.Status == http.StatusOK || res.Status == http.StatusTooManyRequests {
				t.Fatalf("probe %d: got %v, want a refusal (400 or 401)", i+1, res)
			}
		}
		for _, r := range []struct {
			path string
			form url.Values
		}{
			{tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oidcop.RefreshPrefix + strings.Repeat("g", 43)}}},
			{"/oauth/introspect", url.Values{"token": {"x"}}},
			{"/oauth/revoke", url.Values{"token": {"x"}}},
			{tokenPath, cc},
		} {
			res := send(prober, r.path, r.form, sa.ClientID, sa.ClientSecret)
			if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
				t.Errorf("%s from the prober's address after 3 failures: got %v, want 429 with Retry-After", r.path, res)
			}
		}
		if res := send(relyingParty, tokenPath, cc, sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
			t.Errorf("the relying party while the prober is refused: got %v, want 200", res)
		}
	})
}
