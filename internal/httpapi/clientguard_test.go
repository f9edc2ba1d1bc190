package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
)

// basicClient is the Authorization header of client id with secret (RFC
// 6749 section 2.3.1: each form-encoded, then base64).
func basicClient(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
}

// newProviderServer is the service with its rate limits on (the login
// limit and the provider's failures per address out of the way) and the
// OpenID provider on (EdDSA keys and a public URL), which takes the
// client_credentials grant at /api/v1/token.
func newProviderServer(t *testing.T, kind string) *server {
	t.Helper()
	return newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "1000/1m", "USERSVC_RATE_LIMIT_OAUTH_FAILURES", "1000/1m"),
		apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://auth.example.test"))
}

// clientCredentials asks /token for a service account's token with
// client id and secret by HTTP Basic.
func (s *server) clientCredentials(id, secret string) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: tokenPath, body: "grant_type=client_credentials", contentType: formType, header: basicClient(id, secret)})
}

// wantInvalidClient checks res is the invalid_client of a wrong secret:
// 401, in RFC 6749 section 5.2's form (the OpenID provider's grants answer
// that member alone).
func wantInvalidClient(t *testing.T, res response) {
	t.Helper()
	if res.Status != http.StatusUnauthorized || res.object(t)["error"] != "invalid_client" {
		t.Fatalf("got %v, want 401 invalid_client", res)
	}
}

// wantClientLocked checks res is the refusal of a locked-out client: 429
// with Retry-After, in the shape /token answers every error (the RFC 6749
// members beside detail and code).
func wantClientLocked(t *testing.T, res response) {
	t.Helper()
	body := wantOAuthError(t, res, http.StatusTooManyRequests, "temporarily_unavailable", "")
	if body["code"] != "client_locked" {
		t.Errorf("code = %v, want client_locked", body["code"])
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > int((15*time.Minute).Seconds()) {
		t.Errorf("Retry-After = %q, want the seconds left of the 15 minute cool-down", res.Header.Get("Retry-After"))
	}
}

// TestClientSecretGuessesLockTheClient: wrong secrets for one client id
// from one address are counted; after 10 of them (the default) every
// authentication of that client from there is refused with 429 and Retry-After for
// the cool-down, its right secret too, at every endpoint that takes it:
// the client_credentials grant (the OpenID provider's, delegated from
// /token), the password grant of a confidential client, introspection.
// The client's own successes are never counted (nor its right secret by
// the wrong method), other clients go on, and made-up client ids are
// refused as before without being counted.
func TestClientSecretGuessesLockTheClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newProviderServer(t, kind)
		admin := s.adminToken()
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()

		// Successes do not count, however many.
		for i := range 30 {
			if res := s.clientCredentials(sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
				t.Fatalf("success %d: got %v, want 200", i+1, res)
			}
		}
		// Nor does a right secret by the wrong method, refused uncompared:
		// golang.org/x/oauth2 tries HTTP Basic before the form.
		post := s.createClient(admin, `{"name":"Poster","confidential":true,"token_endpoint_auth_method":"client_secret_post","grant_types":["client_credentials"],"scopes":["users:read"]}`)
		for range 12 {
			wantInvalidClient(t, s.clientCredentials(post.ClientID, post.ClientSecret))
		}
		byPost := url.Values{"grant_type": {"client_credentials"}, "client_id": {post.ClientID}, "client_secret": {post.ClientSecret}}.Encode()
		if res := s.do(req{method: "POST", path: tokenPath, body: byPost, contentType: formType}); res.Status != http.StatusOK {
			t.Fatalf("client_secret_post after its secret was tried by Basic: got %v, want 200", res)
		}
		// Made-up client ids are refused as ever, and never locked out.
		for i := range 15 {
			wantInvalidClient(t, s.clientCredentials(fmt.Sprintf("made-up-%d", i%3), "guess"))
		}
		// Ten wrong secrets, the client's successes between them.
		for i := range 10 {
			wantInvalidClient(t, s.clientCredentials(sa.ClientID, fmt.Sprintf("ucs_guess-%d", i)))
			if i == 9 {
				break
			}
			if res := s.clientCredentials(sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
				t.Fatalf("the right secret after %d wrong ones: got %v, want 200", i+1, res)
			}
		}
		// Locked: the right secret is refused too, so guessing cannot go on.
		wantClientLocked(t, s.clientCredentials(sa.ClientID, sa.ClientSecret))
		wantClientLocked(t, s.clientCredentials(sa.ClientID, "ucs_another-guess"))
		introspect := s.do(req{method: "POST", path: "/oauth/introspect", body: "token=x", contentType: formType, header: basicClient(sa.ClientID, sa.ClientSecret)})
		wantClientLocked(t, introspect)
		// Another client, from the same address, is not held back.
		login := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
		if res := s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicClient(bff.ClientID, bff.ClientSecret)}); res.Status != http.StatusOK {
			t.Fatalf("another client's password grant: got %v, want 200", res)
		}

		// The password grant of a confidential client is guarded alike.
		for i := range 10 {
			res := s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicClient(bff.ClientID, fmt.Sprintf("ucs_guess-%d", i))})
			wantOAuthError(t, res, http.StatusUnauthorized, "invalid_client", "")
		}
		wantClientLocked(t, s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicClient(bff.ClientID, bff.ClientSecret)}))

		// Each lockout is logged once, with the client's id.
		lockouts := map[any]int{}
		for _, l := range s.logLines() {
			if l["msg"] == "OAuth client locked out after repeated wrong secrets" {
				lockouts[l["client_id"]]++
			}
		}
		if lockouts[sa.ClientID] != 1 || lockouts[bff.ClientID] != 1 || len(lockouts) != 2 {
			t.Errorf("lockouts logged %v, want one for each of %s and %s", lockouts, sa.ClientID, bff.ClientID)
		}

		// After the cool-down the right secret works again.
		s.Clock.Advance(15*time.Minute + time.Second)
		if res := s.clientCredentials(sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
			t.Errorf("after the cool-down: got %v, want 200", res)
		}
		if res := s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicClient(bff.ClientID, bff.ClientSecret)}); res.Status != http.StatusOK {
			t.Errorf("the password grant after the cool-down: got %v, want 200", res)
		}
	})
}

// basicFrom is basicClient(id, secret) on a request from addr.
func basicFrom(addr, id, secret string) http.Header {
	h := basicClient(id, secret)
	h.Set(peerHeader, addr)
	return h
}

// TestClientLockoutIsPerAddress: a client id is no secret (it is in every
// authorize URL), so whoever knows one must not lock its relying party
// out. An attacker at one address sending wrong secrets past the
// threshold locks out that client at that address only: the client's
// right secret from its own address still gets tokens at every endpoint
// that takes it (the client_credentials grant, the password grant of a
// confidential client, introspection), while the attacker's address stays
// refused, the right secret too, and the lockout is logged once with the
// client and the address.
func TestClientLockoutIsPerAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newProviderServer(t, kind)
		admin := s.adminToken()
		sa := s.createClient(admin, `{"name":"Reporting","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()
		const attacker, relyingParty = "198.51.100.9", "203.0.113.10"
		cc := func(addr, id, secret string) response {
			t.Helper()
			return s.do(req{method: "POST", path: tokenPath, body: "grant_type=client_credentials", contentType: formType, header: basicFrom(addr, id, secret)})
		}
		login := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
		password := func(addr, secret string) response {
			t.Helper()
			return s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicFrom(addr, bff.ClientID, secret)})
		}

		for i := range 15 {
			res := cc(attacker, sa.ClientID, fmt.Sprintf("ucs_guess-%d", i))
			if i < 10 {
				wantInvalidClient(t, res)
			} else {
				wantClientLocked(t, res)
			}
			res = password(attacker, fmt.Sprintf("ucs_guess-%d", i))
			if i < 10 {
				wantOAuthError(t, res, http.StatusUnauthorized, "invalid_client", "")
			} else {
				wantClientLocked(t, res)
			}
		}

		// The relying parties, from their own address, go on.
		if res := cc(relyingParty, sa.ClientID, sa.ClientSecret); res.Status != http.StatusOK {
			t.Fatalf("client_credentials from the client's own address while an attacker guesses: got %v, want 200", res)
		}
		if res := password(relyingParty, bff.ClientSecret); res.Status != http.StatusOK {
			t.Fatalf("the password grant from the client's own address while an attacker guesses: got %v, want 200", res)
		}
		introspect := func(addr string) response {
			return s.do(req{method: "POST", path: "/oauth/introspect", body: "token=x", contentType: formType, header: basicFrom(addr, sa.ClientID, sa.ClientSecret)})
		}
		if res := introspect(relyingParty); res.Status != http.StatusOK {
			t.Fatalf("introspection from the client's own address: got %v, want 200", res)
		}

		// The attacker's address stays refused, the right secret too.
		wantClientLocked(t, cc(attacker, sa.ClientID, sa.ClientSecret))
		wantClientLocked(t, password(attacker, bff.ClientSecret))
		wantClientLocked(t, introspect(attacker))

		lockouts := map[string]int{}
		for _, l := range s.logLines() {
			if l["msg"] == "OAuth client locked out after repeated wrong secrets" {
				lockouts[fmt.Sprint(l["client_id"], " ", l["client_ip"])]++
			}
		}
		if lockouts[sa.ClientID+" "+attacker] != 1 || lockouts[bff.ClientID+" "+attacker] != 1 || len(lockouts) != 2 {
			t.Errorf("lockouts logged %v, want one for each client at %s", lockouts, attacker)
		}
	})
}
