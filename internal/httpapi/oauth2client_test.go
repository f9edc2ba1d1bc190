package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The token endpoint as a stock OAuth2 client uses it: golang.org/x/oauth2,
// code nobody here wrote, over a real socket (loopback), with its default
// settings (AuthStyleAutoDetect: client credentials in a Basic header,
// then, after a failure, once more in the form).

// oauthClient serves s on loopback and returns an x/oauth2 configuration
// of its token endpoint with clientID, and a context whose HTTP client
// counts the requests to /token in tokenRequests.
func (s *server) oauthClient(clientID string) (*oauth2.Config, context.Context, *atomic.Int64) {
	s.t.Helper()
	ts := httptest.NewServer(s.h)
	s.t.Cleanup(ts.Close)
	var n atomic.Int64
	hc := &http.Client{Transport: countingTransport{n: &n, next: ts.Client().Transport}}
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: ts.URL + tokenPath}}
	return cfg, context.WithValue(s.t.Context(), oauth2.HTTPClient, hc), &n
}

// base is the loopback address of the server behind an oauthClient's
// configuration.
func base(cfg *oauth2.Config) string {
	return cfg.Endpoint.TokenURL[:len(cfg.Endpoint.TokenURL)-len(tokenPath)]
}

type countingTransport struct {
	n    *atomic.Int64
	next http.RoundTripper
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == tokenPath {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// getMe sends GET /users/me through an oauth2 client and returns its
// status.
func getMe(ctx context.Context, t *testing.T, cfg *oauth2.Config, ts oauth2.TokenSource) int {
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, base(cfg)+"/api/v1/users/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := oauth2.NewClient(ctx, ts).Do(r)
	if err != nil {
		t.Fatalf("GET /users/me through the oauth2 client: %v", err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

func TestOAuth2ClientPasswordGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		for _, clientID := range []string{"", "spa-frontend"} {
			t.Run("client id "+strconv.Quote(clientID), func(t *testing.T) {
				a, _ := s.signUp()
				cfg, ctx, requests := s.oauthClient(clientID)
				tok, err := cfg.PasswordCredentialsToken(ctx, a.Username, a.Password)
				if err != nil {
					t.Fatalf("password grant: %v", err)
				}
				if requests.Load() != 1 {
					t.Errorf("the client sent %d requests to /token, want 1 (its first auth style accepted)", requests.Load())
				}
				if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "bearer" || time.Until(tok.Expiry) < 29*time.Minute {
					t.Errorf("token %+v: want an access token for 30 minutes and a refresh token", tok)
				}
				if d, _ := tok.Extra("device_token").(string); d == "" {
					t.Error("the answer has no device_token")
				}
				if got := getMe(ctx, t, cfg, cfg.TokenSource(ctx, tok)); got != http.StatusOK {
					t.Errorf("GET /users/me with the client's token: %d, want 200", got)
				}
				wantAuditClientID(t, s, tok.AccessToken, "login.succeeded", clientID)
			})
		}
	})
}

// wantAuditClientID checks that the newest event of kind the account of
// access sees records clientID ("" for none).
func wantAuditClientID(t *testing.T, s *server, access, kind, clientID string) {
	t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/audit", token: access})
	if res.Status != http.StatusOK {
		t.Fatalf("GET /users/me/audit: %v", res)
	}
	items, _ := res.object(t)["items"].([]any)
	for _, it := range items {
		e, _ := it.(map[string]any)
		if e["kind"] != kind {
			continue
		}
		detail, _ := e["detail"].(map[string]any)
		if got, _ := detail["client_id"].(string); got != clientID {
			t.Errorf("%s event detail %v: client_id %q, want %q", kind, detail, got, clientID)
		}
		return
	}
	t.Errorf("no %s event in %s", kind, res.Body)
}

// TestOAuth2ClientRefreshesAutomatically: once the access token has
// expired (on the server's clock, which the test moves), the client's
// next request refreshes it through /token and goes through.
func TestOAuth2ClientRefreshesAutomatically(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, _ := s.signUp()
		cfg, ctx, requests := s.oauthClient("cli")
		tok, err := cfg.PasswordCredentialsToken(ctx, a.Username, a.Password)
		if err != nil {
			t.Fatalf("password grant: %v", err)
		}
		s.Clock.Advance(31 * time.Minute)
		s.wantMe(tok.AccessToken, http.StatusUnauthorized, "the first access token, expired")
		// x/oauth2 judges expiry by the wall clock, which the test cannot
		// move: tell it what the server's clock says.
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Second)
		src := cfg.TokenSource(ctx, &expired)
		if got := getMe(ctx, t, cfg, src); got != http.StatusOK {
			t.Fatalf("GET /users/me after the access token expired: %d, want 200 (refreshed)", got)
		}
		fresh, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
			t.Errorf("after the refresh: access or refresh token unchanged")
		}
		if requests.Load() != 2 {
			t.Errorf("%d requests to /token, want 2 (the login and one refresh)", requests.Load())
		}
		wantAuditClientID(t, s, fresh.AccessToken, "login.succeeded", "cli")
	})
}

func TestOAuth2ClientWrongPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, _ := s.signUp()
		for _, clientID := range []string{"", "spa-frontend"} {
			cfg, ctx, _ := s.oauthClient(clientID)
			_, err := cfg.PasswordCredentialsToken(ctx, a.Username, "not the password")
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("client %q, wrong password: got %v, want an *oauth2.RetrieveError", clientID, err)
			}
			if re.ErrorCode != "invalid_grant" || re.ErrorDescription != "incorrect username or password" || re.Response.StatusCode != http.StatusUnauthorized {
				t.Errorf("client %q, wrong password: error %q (%q), status %d; want invalid_grant, the detail, 401",
					clientID, re.ErrorCode, re.ErrorDescription, re.Response.StatusCode)
			}
			if ch := re.Response.Header.Get("WWW-Authenticate"); ch != "" {
				t.Errorf("WWW-Authenticate %q on /token, want none", ch)
			}
		}
	})
}

// TestOAuth2ClientTyposDoNotLockTheAccount: x/oauth2 sends every failed
// login twice (its second auth style), so five typos reach the server ten
// times; with the default lockout (10 failures) and per-account rate (10
// a minute) the owner still gets in with the right password next.
func TestOAuth2ClientTyposDoNotLockTheAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn())
		a, _ := s.signUp()
		var sent int64
		for i := range 5 {
			cfg, ctx, requests := s.oauthClient("")
			_, err := cfg.PasswordCredentialsToken(ctx, a.Username, a.Password+" typo "+strconv.Itoa(i))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Fatalf("typo %d: got %v, want invalid_grant", i, err)
			}
			sent += requests.Load()
		}
		if sent != 10 {
			t.Errorf("the client sent %d requests for 5 typos, want 10 (each failure retried once)", sent)
		}
		cfg, ctx, _ := s.oauthClient("")
		if _, err := cfg.PasswordCredentialsToken(ctx, a.Username, a.Password); err != nil {
			t.Errorf("the right password after 5 typos: %v, want a token", err)
		}
	})
}
