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

// TestRelyingPartysRefusedGrantsDoNotThrottleIt: a confidential relying
// party's server exchanges codes and refresh tokens for all its users from
// its own address, and some of them are refused: a user who reloads the
// callback page sends their code again or takes too long to, a user back
// after months has an expired refresh token, and any user can put any
// code in the callback's query string, as often as they like. Those refusals came after the client proved its secret and
// were counted against the address like a prober's guesses: past
// USERSVC_RATE_LIMIT_OAUTH_FAILURES every exchange of the relying party
// was answered 429, the sign-ins of all its users with it. A refusal made
// to a client that proved its secret is not a guess; what a client
// without it sends is still counted.
func TestRelyingPartysRefusedGrantsDoNotThrottleIt(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_OAUTH_FAILURES", "3/1m"),
			apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://auth.example.test"))
		rp := s.createClient(s.adminToken(), `{"name":"Shop","confidential":true,"redirect_uris":["https://shop.example/cb"],"grant_types":["authorization_code","refresh_token","client_credentials"],"scopes":["users:read"]}`)
		const relyingParty = "203.0.113.10"
		send := func(form url.Values, secret string) response {
			t.Helper()
			return s.do(req{method: "POST", path: tokenPath, body: form.Encode(), contentType: formType, header: basicFrom(relyingParty, rp.ClientID, secret)})
		}
		// golang.org/x/oauth2 tries client_secret_post after a refusal to
		// HTTP Basic: the secret by another method than the client's,
		// refused, not compared.
		sendPost := func(form url.Values) response {
			t.Helper()
			form.Set("client_id", rp.ClientID)
			form.Set("client_secret", rp.ClientSecret)
			return s.do(req{method: "POST", path: tokenPath, body: form.Encode(), contentType: formType, header: http.Header{peerHeader: {relyingParty}}})
		}
		for i := range 6 {
			stale := []url.Values{
				{"grant_type": {"authorization_code"}, "code": {"made-up"}, "redirect_uri": {"https://shop.example/cb"}},
				{"grant_type": {"refresh_token"}, "refresh_token": {oidcop.RefreshPrefix + strings.Repeat("e", 43)}},
			}[i%2]
			if res := send(stale, rp.ClientSecret); res.Status != http.StatusBadRequest {
				t.Fatalf("a user's stale grant %d through the relying party: got %v, want 400", i+1, res)
			}
			if res := sendPost(stale); res.Status != http.StatusBadRequest && res.Status != http.StatusUnauthorized {
				t.Fatalf("the same by client_secret_post: got %v, want 400 or 401", res)
			}
		}
		if res := send(url.Values{"grant_type": {"client_credentials"}}, rp.ClientSecret); res.Status != http.StatusOK {
			t.Errorf("the relying party's exchange after its users' 12 refused grants: got %v, want 200", res)
		}
		// Without the secret the same requests are guesses, counted.
		for range 3 {
			send(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oidcop.RefreshPrefix + strings.Repeat("g", 43)}}, "wrong")
		}
		if res := send(url.Values{"grant_type": {"client_credentials"}}, rp.ClientSecret); res.Status != http.StatusTooManyRequests {
			t.Errorf("the address after 3 requests with a wrong secret: got %v, want 429", res)
		}
	})
}
