package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// loginPair logs a new account in and returns its access and refresh tokens.
func (s *server) loginPair() (access, refresh string) {
	s.t.Helper()
	a := newAccount()
	s.register(a)
	res := s.loginAs(a.Username, a.Password)
	if res.Status != http.StatusOK {
		s.t.Fatalf("login: %v", res)
	}
	body := res.object(s.t)
	return body["access_token"].(string), body["refresh_token"].(string)
}

func (s *server) revoke(form url.Values) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/revoke", body: form.Encode(), contentType: formType})
}

// TestRevokeRefreshToken: revoking a refresh token (RFC 7009) ends its
// session: the refresh token no longer refreshes and the session's access
// token no longer authenticates.
func TestRevokeRefreshToken(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		for _, hint := range []string{"", "refresh_token", "access_token", "bogus"} {
			access, refresh := s.loginPair()
			form := url.Values{"token": {refresh}, "client_id": {"my-spa"}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			res := s.revoke(form)
			if res.Status != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("hint %q: revoke = %v (Cache-Control %q), want 200, no-store", hint, res, res.Header.Get("Cache-Control"))
			}
			if got := s.refresh(refresh); got.Status == http.StatusOK {
				t.Errorf("hint %q: the revoked refresh token still refreshes: %v", hint, got)
			}
			if got := s.do(req{method: "GET", path: "/api/v1/users/me", token: access}); got.Status != http.StatusUnauthorized {
				t.Errorf("hint %q: the session's access token after revocation: %v, want 401", hint, got)
			}
			// Revoking again is no error.
			if res := s.revoke(form); res.Status != http.StatusOK {
				t.Errorf("hint %q: revoking twice = %v, want 200", hint, res)
			}
		}
	})
}

// TestRevokeAccessToken: revoking an access token ends its session, so
// its refresh token stops refreshing too.
func TestRevokeAccessToken(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		for _, hint := range []string{"", "access_token", "refresh_token"} {
			access, refresh := s.loginPair()
			other, _ := s.loginPair()
			form := url.Values{"token": {access}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			if res := s.revoke(form); res.Status != http.StatusOK {
				t.Fatalf("hint %q: revoke = %v, want 200", hint, res)
			}
			if got := s.do(req{method: "GET", path: "/api/v1/users/me", token: access}); got.Status != http.StatusUnauthorized {
				t.Errorf("hint %q: the revoked access token: %v, want 401", hint, got)
			}
			if got := s.refresh(refresh); got.Status == http.StatusOK {
				t.Errorf("hint %q: the refresh token of the revoked session still refreshes", hint)
			}
			if got := s.do(req{method: "GET", path: "/api/v1/users/me", token: other}); got.Status != http.StatusOK {
				t.Errorf("hint %q: another user's session after the revocation: %v, want 200", hint, got)
			}
		}
	})
}

// TestRevokeUnknownTokenIs200: an unknown, malformed or forged token is
// answered as a revoked one (RFC 7009 section 2.2), so the answer tells
// nothing about which tokens exist.
func TestRevokeUnknownTokenIs200(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		access, _ := s.loginPair()
		for name, token := range map[string]string{
			"random":              "nosuchtoken",
			"refresh token shape": strings.Repeat("A", 43),
			"tampered jwt":        access[:len(access)-4] + "AAAA",
			"unknown param too":   "x",
		} {
			form := url.Values{"token": {token}, "unknown_param": {"ignored"}}
			if res := s.revoke(form); res.Status != http.StatusOK {
				t.Errorf("%s: revoke = %v, want 200", name, res)
			}
		}
		if got := s.do(req{method: "GET", path: "/api/v1/users/me", token: access}); got.Status != http.StatusOK {
			t.Errorf("a tampered copy of an access token ended its session: %v", got)
		}
	})
}

// TestRevokeMalformedRequest: a request that is not a form with one token
// is 400 with the OAuth error invalid_request beside detail and code.
func TestRevokeMalformedRequest(t *testing.T) {
	s := newServer(t, apptest.SQLite)
	for name, r := range map[string]req{
		"no token":        {body: "token_type_hint=access_token", contentType: formType},
		"empty token":     {body: "token=", contentType: formType},
		"token twice":     {body: "token=a&token=b", contentType: formType},
		"JSON body":       {body: `{"token":"a"}`},
		"no body":         {contentType: formType},
		"bad escape":      {body: "token=%zz", contentType: formType},
		"no media type":   {body: "token=a", contentType: "-"},
		"hint twice":      {body: "token=a&token_type_hint=x&token_type_hint=y", contentType: formType},
		"client id twice": {body: "token=a&client_id=x&client_id=y", contentType: formType},
	} {
		r.method, r.path = "POST", "/api/v1/revoke"
		res := s.do(r)
		body := wantProblem(t, res, http.StatusBadRequest, "")
		if body["error"] != "invalid_request" {
			t.Errorf("%s: body %s, want error invalid_request", name, res.Body)
		}
	}
}

// TestRevokeIsRateLimited: revocation counts per client address, as the
// refresh grant does, so that it is no cheaper way to guess tokens.
func TestRevokeIsRateLimited(t *testing.T) {
	s := newServer(t, apptest.SQLite, limitsOn("USERSVC_RATE_LIMIT_REFRESH", "3/1m"))
	for i := range 4 {
		res := s.revoke(url.Values{"token": {"guess"}})
		want := http.StatusOK
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if res.Status != want {
			t.Fatalf("revocation %d: %v, want %d", i+1, res, want)
		}
	}
}
