package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// TestRevokeConfidentialClientsTokenNeedsThatClient: a refresh token of a
// login by a confidential client is revoked at /api/v1/revoke only by
// that client, authenticated (RFC 7009 section 2.1). Without credentials,
// with its client_id alone or with a wrong secret the request is refused
// 401 invalid_client; another client that authenticates is answered 200
// and nothing happens (the token is not one of its own, as /oauth/revoke
// answers). Each refusal leaves the session refreshing for its client,
// whose own revocation ends it. Anyone holding the token could only end
// the session before, though without the secret they could not use it.
func TestRevokeConfidentialClientsTokenNeedsThatClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		other := s.createClient(admin, `{"name":"Other BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()
		own := basicClient(bff.ClientID, bff.ClientSecret)
		login := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
		res := s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: own})
		if res.Status != http.StatusOK {
			t.Fatalf("login: got %v, want 200", res)
		}
		rt := res.object(t)["refresh_token"].(string)
		revoke := func(form url.Values, h http.Header) response {
			t.Helper()
			form.Set("token", rt)
			return s.do(req{method: "POST", path: "/api/v1/revoke", body: form.Encode(), contentType: formType, header: h})
		}
		stillRefreshes := func(what string) {
			t.Helper()
			body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
			res := s.do(req{method: "POST", path: tokenPath, body: body, contentType: formType, header: own})
			if res.Status != http.StatusOK {
				t.Fatalf("after %s: its client's refresh got %v, want 200", what, res)
			}
			rt = res.object(t)["refresh_token"].(string)
		}

		for name, r := range map[string]struct {
			form url.Values
			h    http.Header
		}{
			"no client":                            {url.Values{}, nil},
			"its client_id alone":                  {url.Values{"client_id": {bff.ClientID}}, nil},
			"a public client's id":                 {url.Values{"client_id": {"my-spa"}}, nil},
			"a wrong secret (Basic)":               {url.Values{}, basicClient(bff.ClientID, "ucs_wrong")},
			"a wrong secret (post)":                {url.Values{"client_id": {bff.ClientID}, "client_secret": {"ucs_wrong"}}, nil},
			"an unregistered client with a secret": {url.Values{"client_id": {"made-up"}, "client_secret": {"x"}}, nil},
		} {
			res := revoke(r.form, r.h)
			wantOAuthError(t, res, http.StatusUnauthorized, "invalid_client", "")
			stillRefreshes(name)
		}
		if res := revoke(url.Values{}, basicClient(other.ClientID, other.ClientSecret)); res.Status != http.StatusOK {
			t.Fatalf("another client, authenticated: got %v, want 200", res)
		}
		stillRefreshes("another client's revocation")

		if res := revoke(url.Values{}, own); res.Status != http.StatusOK {
			t.Fatalf("its own client's revocation: got %v, want 200", res)
		}
		body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
		wantOAuthError(t, s.do(req{method: "POST", path: tokenPath, body: body, contentType: formType, header: own}), http.StatusBadRequest, "invalid_grant", "")
	})
}

// TestRevokeOtherTokensAsBefore: what only a confidential client's token
// needs changes nothing for the rest. A first-party token (a login that
// named no client) is revoked with or without a client_id; a token of a
// login that named a public client_id is revoked by that client_id and
// refused (401 invalid_client) without it; an access token ends its
// session whoever sends it, as before (its holder could end the session
// with POST /logout anyway).
func TestRevokeOtherTokensAsBefore(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		bff := s.createClient(admin, `{"name":"BFF","first_party":true,"confidential":true}`)
		a, _ := s.signUp()
		login := func(v url.Values, h http.Header) (access, refresh string) {
			t.Helper()
			v.Set("username", a.Username)
			v.Set("password", a.Password)
			res := s.do(req{method: "POST", path: tokenPath, body: v.Encode(), contentType: formType, header: h})
			if res.Status != http.StatusOK {
				t.Fatalf("login: got %v, want 200", res)
			}
			o := res.object(t)
			return o["access_token"].(string), o["refresh_token"].(string)
		}
		revoked := func(what, token string, form url.Values) {
			t.Helper()
			form.Set("token", token)
			res := s.do(req{method: "POST", path: "/api/v1/revoke", body: form.Encode(), contentType: formType})
			if res.Status != http.StatusOK {
				t.Fatalf("%s: revoke got %v, want 200", what, res)
			}
		}
		ended := func(what, access string) {
			t.Helper()
			if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: access}); res.Status != http.StatusUnauthorized {
				t.Errorf("%s: the session's access token after the revocation: %v, want 401", what, res)
			}
		}

		access, refresh := login(url.Values{}, nil)
		revoked("first-party, no client_id", refresh, url.Values{})
		ended("first-party, no client_id", access)
		access, refresh = login(url.Values{}, nil)
		revoked("first-party, a client_id", refresh, url.Values{"client_id": {"my-spa"}})
		ended("first-party, a client_id", access)

		access, refresh = login(url.Values{"client_id": {"app-a"}}, nil)
		res := s.do(req{method: "POST", path: "/api/v1/revoke", body: url.Values{"token": {refresh}}.Encode(), contentType: formType})
		wantOAuthError(t, res, http.StatusUnauthorized, "invalid_client", "")
		revoked("a public client's, by its client_id", refresh, url.Values{"client_id": {"app-a"}})
		ended("a public client's, by its client_id", access)

		access, _ = login(url.Values{}, basicClient(bff.ClientID, bff.ClientSecret))
		revoked("a confidential client's access token", access, url.Values{})
		ended("a confidential client's access token", access)
	})
}

// TestRevokeCountsWrongClientSecrets: wrong secrets at /api/v1/revoke
// count towards the client's lockout at that address as at /token: after
// ten, its right secret is refused there too, with 429 client_locked (a
// problem, as /revoke's other 429), and at /token.
func TestRevokeCountsWrongClientSecrets(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "1000/1m"))
		bff := s.createClient(s.adminToken(), `{"name":"BFF","first_party":true,"confidential":true}`)
		for i := range 10 {
			res := s.do(req{method: "POST", path: "/api/v1/revoke", body: "token=x", contentType: formType, header: basicClient(bff.ClientID, fmt.Sprintf("ucs_guess-%d", i))})
			wantOAuthError(t, res, http.StatusUnauthorized, "invalid_client", "")
			if res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("a wrong secret by HTTP Basic: no WWW-Authenticate challenge")
			}
		}
		locked := s.do(req{method: "POST", path: "/api/v1/revoke", body: "token=x", contentType: formType, header: basicClient(bff.ClientID, bff.ClientSecret)})
		if body := wantProblem(t, locked, http.StatusTooManyRequests, ""); body["code"] != "client_locked" || locked.Header.Get("Retry-After") == "" {
			t.Errorf("its right secret after ten wrong ones: %v, want 429 client_locked with Retry-After", locked)
		}
		a, _ := s.signUp()
		login := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
		wantClientLocked(t, s.do(req{method: "POST", path: tokenPath, body: login, contentType: formType, header: basicClient(bff.ClientID, bff.ClientSecret)}))
	})
}
