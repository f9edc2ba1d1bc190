package oidcop_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// Guards of what a review against RFC 9700 and OpenID Connect Core found
// right but no test held.

// TestConsentRefusesCrossSitePosts: the consent form's answer is taken
// only from the page's own origin (CSRF): a post another site makes the
// signed-in browser send (Sec-Fetch-Site cross-site or same-site, or a
// foreign Origin) is refused 403 and gives no code; the page's own post
// then still does.
func TestConsentRefusesCrossSitePosts(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
		Scopes: []string{oidc.ScopeOpenID, "email"}}
	_, _, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	id := hiddenID(t, page)
	c := *br.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "https://evil.example"}} {
		req, _ := http.NewRequest(http.MethodPost, f.base+"/oauth/consent", strings.NewReader(url.Values{"id": {id}, "decision": {"allow"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(h[0], h[1])
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
			t.Errorf("consent posted with %s: %s: %d to %q, want 403 and no code", h[0], h[1], res.StatusCode, res.Header.Get("Location"))
		}
	}
	if q := br.consent(id, "allow"); q.Get("code") == "" {
		t.Errorf("the page's own post after the refused ones: %v, want a code", q)
	}
}

// TestCodeBoundToItsRedirectURI: a code is exchanged only with the
// redirect_uri of its request (RFC 6749 section 4.1.3): another or none is
// invalid_grant and does not use the code up.
func TestCodeBoundToItsRedirectURI(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	conf := f.webConfig()
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(f.signIn(), conf, "s", oauth2.S256ChallengeOption(verifier))
	basic := func(r *http.Request) { r.SetBasicAuth(webClient, webSecret) }
	for name, redirect := range map[string][]string{"another redirect_uri": {rpOrigin + "/other"}, "none": nil} {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier}, "redirect_uri": redirect}
		f.wantInvalidGrant("the code with "+name, f.tokenRequest(form, basic))
	}
	if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("the code with its own redirect_uri after the refusals: %v", err)
	}
}

// TestIDTokenNamesItsClientAndIssuer: the ID token's aud is its client
// alone, azp its client, iss the issuer, and it expires (OpenID Connect
// Core 2 and 3.1.3.7), on the code exchange and on a refresh, whose
// auth_time stays the sign-in's.
func TestIDTokenNamesItsClientAndIssuer(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	conf := f.webConfig()
	tok := f.exchange(f.signIn(), conf, "s")
	next, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	first := jwtClaims(t, tok.Extra("id_token").(string))
	for name, raw := range map[string]any{"exchange": tok.Extra("id_token"), "refresh": next.Extra("id_token")} {
		s, _ := raw.(string)
		if s == "" {
			t.Fatalf("%s: no ID token", name)
		}
		c := jwtClaims(t, s)
		aud, _ := c["aud"].([]any)
		if !slices.Equal(aud, []any{webClient}) || c["azp"] != webClient || c["iss"] != f.base || c["exp"] == nil {
			t.Errorf("%s: aud %v, azp %v, iss %v, exp %v; want [%s], %s, %s and an expiry", name, c["aud"], c["azp"], c["iss"], c["exp"], webClient, webClient, f.base)
		}
		if c["auth_time"] != first["auth_time"] {
			t.Errorf("%s: auth_time %v, want the sign-in's %v", name, c["auth_time"], first["auth_time"])
		}
	}
}

// TestProviderTokensAreNotTheAPIs: a relying party's access token (aud
// its client) and its ID token are no credentials for the service's own
// API, where a token would act as the account itself (change its
// password, delete it): 401 at /api/v1/users/me, while the password
// grant's token of the same user is taken.
func TestProviderTokensAreNotTheAPIs(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	tok := f.exchange(f.signIn(), f.webConfig(), "s")
	var pw struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(f.post("/api/v1/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}}.Encode(), http.StatusOK), &pw)
	for name, want := range map[string]struct {
		token  string
		status int
	}{
		"the provider's access token": {tok.AccessToken, http.StatusUnauthorized},
		"the provider's ID token":     {tok.Extra("id_token").(string), http.StatusUnauthorized},
		"the password grant's token":  {pw.AccessToken, http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, f.base+"/api/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+want.token)
		res, err := f.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want.status {
			t.Errorf("%s at /api/v1/users/me: %d, want %d", name, res.StatusCode, want.status)
		}
	}
}
