package oidcop_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// userinfo asks /oauth/userinfo with token (none when "") and returns
// the status and the WWW-Authenticate header.
func (f *fixture) userinfo(token string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, f.base+"/oauth/userinfo", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("WWW-Authenticate")
}

// TestUserinfoRefusesTokensAsBearerErrors: userinfo refuses a request
// without a token, or with one it does not take, as RFC 6750 section 3
// asks (OpenID Connect Core 5.3.3): 401 with WWW-Authenticate: Bearer,
// error="invalid_token" when a token was sent. A relying party reads
// that as "get a new token". A token that verified but that the provider
// does not take (the password grant's, an ID token, one whose grant was
// revoked) was answered 403 without the header, "forbidden", and one that
// did not verify 401 without it.
func TestUserinfoRefusesTokensAsBearerErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		tok := f.exchange(f.signIn(), conf, "s")
		if status, _ := f.userinfo(tok.AccessToken); status != http.StatusOK {
			t.Fatalf("a live token: %d, want 200", status)
		}
		if status, h := f.userinfo(""); status != http.StatusUnauthorized || !strings.HasPrefix(h, "Bearer") || strings.Contains(h, "error=") {
			t.Errorf("no token: %d, WWW-Authenticate %q; want 401 and Bearer without an error code", status, h)
		}
		var pw struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(f.post("/api/v1/token", "application/x-www-form-urlencoded",
			url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}}.Encode(), http.StatusOK), &pw)
		req, _ := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/oauth/revoke", strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(webClient, webSecret)
		if res, err := f.http.Do(req); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("revoke the grant: %v %v", res, err)
		}
		for name, token := range map[string]string{
			"not a token":                "garbage",
			"the password grant's token": pw.AccessToken,
			"an ID token":                tok.Extra("id_token").(string),
			"a token of a revoked grant": tok.AccessToken,
		} {
			if status, h := f.userinfo(token); status != http.StatusUnauthorized || !strings.HasPrefix(h, "Bearer") || !strings.Contains(h, `error="invalid_token"`) {
				t.Errorf("%s: %d, WWW-Authenticate %q; want 401 and Bearer error=\"invalid_token\"", name, status, h)
			}
		}
	})
}

// TestUserinfoRefusesABodyTokenAsInvalid: a token sent in a POST's form
// body (RFC 6750 section 2.2, which userinfo takes) that the provider
// does not take is refused with error="invalid_token", as one in the
// Authorization header is. op reads the body on a copy of the request,
// so the refusal looked for the token in a body already read, found none
// and answered as for a request without a token: the relying party was
// not told to get a new one.
func TestUserinfoRefusesABodyTokenAsInvalid(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		tok := f.exchange(f.signIn(), f.webConfig(), "s")
		if status, _ := f.userinfoInBody(tok.AccessToken); status != http.StatusOK {
			t.Fatalf("a live token in the body: %d, want 200", status)
		}
		if status, h := f.userinfoInBody("garbage"); status != http.StatusUnauthorized || !strings.Contains(h, `error="invalid_token"`) {
			t.Errorf("a token in the body: %d, WWW-Authenticate %q; want 401 and Bearer error=\"invalid_token\"", status, h)
		}
	})
}

// userinfoInBody asks /oauth/userinfo by POST with token in the form
// body, and returns the status and the WWW-Authenticate header.
func (f *fixture) userinfoInBody(token string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/oauth/userinfo",
		strings.NewReader(url.Values{"access_token": {token}}.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("WWW-Authenticate")
}

// TestUserinfoRefusesTokensOfPlainOAuthGrants: an access token of a grant
// whose request did not ask for openid (a plain OAuth 2.0 client) is
// refused at userinfo with 403 and error="insufficient_scope", scope
// "openid" (RFC 6750 section 3.1): userinfo is the OpenID resource, and
// its access token is one of an OpenID request (OpenID Connect Core 5.3).
// Such a grant has no ID token either; userinfo answered it the profile
// its scopes allowed, as it does an OpenID grant's.
func TestUserinfoRefusesTokensOfPlainOAuthGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		conf.Scopes = []string{"profile", "email"}
		tok := f.exchange(f.signIn(), conf, "s")
		status, h := f.userinfo(tok.AccessToken)
		if status != http.StatusForbidden || !strings.HasPrefix(h, "Bearer") ||
			!strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="openid"`) {
			t.Errorf("a token without openid: %d, WWW-Authenticate %q; want 403 and Bearer error=\"insufficient_scope\", scope=\"openid\"", status, h)
		}
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] != true {
			t.Errorf("the token at introspection = %v, want active: only userinfo refuses it", got)
		}
	})
}
