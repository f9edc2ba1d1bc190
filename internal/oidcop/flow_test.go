package oidcop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// The relying parties of the tests: a first-party confidential web app,
// a third-party public (PKCE-only) app and a service account.
const (
	webClient     = "web-app"
	webSecret     = "web-app-secret-0123456789"
	spaClient     = "spa"
	serviceClient = "reporting"
	serviceSecret = "reporting-secret-0123456789"
	rpOrigin      = "http://127.0.0.1:9" // never dialled: the browser stops at the redirect
	spaOrigin     = "http://localhost:3000"
	password      = "correct horse battery staple"
)

// fixture is the service behind a real listener, as a provider, with its
// clients and a signed-up user.
type fixture struct {
	t        *testing.T
	srv      *apptest.Server
	base     string
	http     *http.Client
	clients  *oidcoptest.Clients
	ctx      context.Context
	provider *oidc.Provider
	username string
}

func newFixture(t *testing.T, kind string, env ...string) *fixture {
	t.Helper()
	return newFixtureWith(t, kind, nil, env...)
}

// newFixtureWith is newFixture with the options opts for apptest.New.
func newFixtureWith(t *testing.T, kind string, opts []apptest.Option, env ...string) *fixture {
	t.Helper()
	clients := oidcoptest.NewClients()
	clients.Add(oidcop.Client{
		ID: webClient, AuthMethod: oidcop.AuthSecretBasic, RedirectURIs: []string{rpOrigin + "/cb"},
		PostLogoutRedirectURIs: []string{rpOrigin + "/bye"}, FirstParty: true,
		GrantTypes: []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
	}, webSecret)
	clients.Add(oidcop.Client{
		ID: spaClient, AuthMethod: oidcop.AuthNone, RedirectURIs: []string{spaOrigin + "/cb"},
		GrantTypes: []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
	}, "")
	clients.Add(oidcop.Client{
		ID: serviceClient, AuthMethod: oidcop.AuthSecretBasic, GrantTypes: []string{oidcop.GrantClientCredentials},
		Scopes: []string{"users:read", "audit:read"},
	}, serviceSecret)
	f := startFixture(t, kind, append([]apptest.Option{apptest.With(app.WithOIDCClients(clients))}, opts...), env...)
	f.clients = clients
	return f
}

// startFixture is the service behind a real listener with opts, its
// relying parties' discovery done and ada signed up; its provider's
// clients are the registry's unless opts say otherwise.
func startFixture(t *testing.T, kind string, opts []apptest.Option, env ...string) *fixture {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	// Both algorithms of the key ring: EdDSA on PostgreSQL, ES256 on SQLite.
	alg := security.ES256
	if kind == apptest.Postgres {
		alg = security.EdDSA
	}
	srv := apptest.New(t, kind, append([]apptest.Option{apptest.Env(append([]string{"USERSVC_JWT_ALG", alg, "USERSVC_PUBLIC_URL", base}, env...)...)},
		opts...)...)
	ts.Config.Handler = srv.Handler
	ts.Start()
	t.Cleanup(ts.Close)
	f := &fixture{t: t, srv: srv, base: base, http: ts.Client(), username: "ada"}
	f.ctx = oidc.ClientContext(t.Context(), f.http)
	p, err := oidc.NewProvider(f.ctx, base)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	f.provider = p
	f.post("/api/v1/register", "application/json", `{"email":"ada@example.com","username":"ada","password":"`+password+`"}`, http.StatusCreated)
	return f
}

func (f *fixture) post(path, contentType, body string, want int) []byte {
	f.t.Helper()
	res, err := f.http.Post(f.base+path, contentType, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		f.t.Fatalf("POST %s = %d %s, want %d", path, res.StatusCode, b, want)
	}
	return b
}

// signIn signs the user in on the hosted sign-in page and returns that
// browser.
func (f *fixture) signIn() *browser {
	f.t.Helper()
	b := f.browser()
	if status, loc := b.form("/sign-in", url.Values{"login": {f.username}, "password": {password}}); status != http.StatusSeeOther {
		f.t.Fatalf("sign in: %d to %q", status, loc)
	}
	return b
}

// form posts values to path from the service's own page (same origin)
// without following the answer, and returns its status and Location.
func (b *browser) form(path string, values url.Values) (int, string) {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.f.base+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.f.base)
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// browser follows redirects on the service's origin and stops at any
// other: the relying party's callback.
type browser struct {
	f   *fixture
	c   *http.Client
	jar *cookiejar.Jar
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(f.base, "http://")
	c := &http.Client{Transport: f.http.Transport, Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host != host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{f: f, c: c, jar: jar}
}

// visit GETs u and returns where the browser was finally sent off the
// service's origin (nil if it was not) and the last response's status
// and body.
func (b *browser) visit(u string) (*url.URL, int, string) {
	b.f.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusFound {
		loc, err := res.Location()
		if err != nil {
			b.f.t.Fatal(err)
		}
		return loc, res.StatusCode, string(body)
	}
	return nil, res.StatusCode, string(body)
}

func (f *fixture) webConfig() *oauth2.Config {
	return &oauth2.Config{ClientID: webClient, ClientSecret: webSecret, Endpoint: f.provider.Endpoint(),
		RedirectURL: rpOrigin + "/cb", Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
}

// authorize sends b through the authorization endpoint and returns the
// callback the relying party receives.
func (f *fixture) authorize(b *browser, conf *oauth2.Config, state string, opts ...oauth2.AuthCodeOption) url.Values {
	f.t.Helper()
	loc, status, body := b.visit(conf.AuthCodeURL(state, opts...))
	if loc == nil {
		f.t.Fatalf("authorize ended at %d %s, not at the client", status, body)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != conf.RedirectURL {
		f.t.Fatalf("sent to %s, want the redirect URI %s", loc, conf.RedirectURL)
	}
	q := loc.Query()
	if q.Get("iss") != f.base {
		f.t.Errorf("iss parameter = %q, want %s (RFC 9207)", q.Get("iss"), f.base)
	}
	if q.Get("state") != state {
		f.t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	return q
}

// exchange runs the code flow with PKCE in b and exchanges the code.
func (f *fixture) exchange(b *browser, conf *oauth2.Config, state string) *oauth2.Token {
	f.t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(b, conf, state, oauth2.S256ChallengeOption(verifier))
	tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		f.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// pendingRequestID follows authorize in b until the hosted sign-in page and
// returns the request id of its return_to (/oauth/login?id=...).
func (b *browser) pendingRequestID(authURL string) string {
	b.f.t.Helper()
	res, err := b.c.Get(authURL)
	if err != nil {
		b.f.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	back := res.Request.URL.Query().Get("return_to")
	if res.Request.URL.Path != "/sign-in" || !strings.HasPrefix(back, "/oauth/login?id=") {
		b.f.t.Fatalf("authorize ended at %s, want the sign-in page with return_to", res.Request.URL)
	}
	u, _ := url.Parse(back)
	return u.Query().Get("id")
}

func eachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range apptest.Stores() {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

// TestCodeFlow: discovery, authorization with PKCE and nonce, the code
// exchanged, the ID token verified (nonce, auth_time, amr, at_hash),
// userinfo, refresh with rotation, RP-initiated logout ending the
// session.
func TestCodeFlow(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(br, conf, "state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))
		tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: webClient}).Verify(f.ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		if idt.Nonce != "nonce-1" {
			t.Errorf("nonce = %q, want nonce-1", idt.Nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		var claims struct {
			AuthTime int64    `json:"auth_time"`
			AMR      []string `json:"amr"`
			Email    string   `json:"email"`
			SID      string   `json:"sid"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if claims.AuthTime == 0 || !slices.Contains(claims.AMR, "pwd") || claims.Email != "ada@example.com" || claims.SID == "" {
			t.Errorf("ID token claims = %+v, want auth_time, amr [pwd], the email and sid", claims)
		}
		info, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Email != "ada@example.com" || info.Subject != idt.Subject {
			t.Fatalf("userinfo = %+v, %v; want ada's email and the ID token's sub", info, err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		next, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || next.AccessToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh = %+v, %v; want a new access token and a new refresh token", next, err)
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Fatal("the used refresh token refreshed again")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
			t.Fatal("after a reused refresh token its grant still refreshes")
		}

		// RP-initiated logout ends the session: the browser is signed out.
		end := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {rpOrigin + "/bye"}, "state": {"s"}}
		loc, status, body := br.visit(f.base + "/oauth/end_session?" + end.Encode())
		if loc == nil || !strings.HasPrefix(loc.String(), rpOrigin+"/bye") {
			t.Fatalf("end_session = %d %s (to %v), want a redirect to the post-logout URI", status, body, loc)
		}
		q = f.authorize(br, conf, "state-2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
		if q.Get("error") != "login_required" {
			t.Fatalf("prompt=none after logout answered %v, want login_required", q)
		}
	})
}

// TestEndSessionHintEndsOnlyTheBrowsersSession: a request with no
// cookies and no user agent at all, holding only an ID token of the user,
// ended the user's page session (and every client's grant on it). Only
// the browser whose session the hint names signs out (TestCodeFlow).
func TestEndSessionHintEndsOnlyTheBrowsersSession(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	conf := f.webConfig()
	tok := f.exchange(br, conf, "s")
	hint := url.QueryEscape(tok.Extra("id_token").(string))
	noRedirect := &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(f.base + "/oauth/end_session?id_token_hint=" + hint)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(br, conf, "s2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
	if q.Get("error") == "login_required" {
		t.Errorf("a cookieless GET with only an id_token_hint signed the user's browser out")
	}
	// Another browser of the same user, signed in on its own session.
	other := f.signIn()
	other.visit(f.base + "/oauth/end_session?id_token_hint=" + hint)
	q = f.authorize(br, conf, "s3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
	if q.Get("error") == "login_required" {
		t.Errorf("another browser's end_session with the hint signed the hint's browser out")
	}
}

// TestEndSessionOfAnUnknownClientIsABadRequest: RP-initiated logout naming
// a client_id that is not registered (a typo, a deleted client, anyone's
// made-up link) was answered 500 server_error, an outage to the service's
// metrics and logs that anyone could cause. It is the caller's error: 400
// invalid_request, sent nowhere.
func TestEndSessionOfAnUnknownClientIsABadRequest(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	noRedirect := &http.Client{Transport: f.http.Transport}
	wantSentNowhere(t, noRedirect, f.base+"/oauth/end_session?client_id=no-such-client&post_logout_redirect_uri="+url.QueryEscape(rpOrigin+"/bye"),
		"end_session of an unknown client")
}

// wantSentNowhere gets u with c, following no redirect, and wants 400
// invalid_request with no Location: what, named in the failure, must
// send the browser nowhere.
func wantSentNowhere(t *testing.T, c *http.Client, u, what string) {
	t.Helper()
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer struct{ Error string }
	body, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(body, &answer); res.StatusCode != http.StatusBadRequest || err != nil || answer.Error != "invalid_request" || res.Header.Get("Location") != "" {
		t.Errorf("%s: %d %s (Location %q), want 400 invalid_request sent nowhere", what, res.StatusCode, body, res.Header.Get("Location"))
	}
}

// TestEndSessionOfADeletedClientsHintIsABadRequest: RP-initiated logout
// with an id_token_hint whose client (its azp) was deleted since was
// answered 500 server_error, as a client_id that is not registered was
// (op takes any failure to find the client for its own). The hint names no
// client the provider knows, so the post_logout_redirect_uri cannot be
// verified and must not be followed (RP-Initiated Logout 1.0 sections 2,
// 3): 400 invalid_request, sent nowhere, as for such a client_id.
func TestEndSessionOfADeletedClientsHintIsABadRequest(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	tok := f.exchange(br, f.webConfig(), "s")
	f.clients.Remove(webClient)
	end := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {rpOrigin + "/bye"}}
	wantSentNowhere(t, br.c, f.base+"/oauth/end_session?"+end.Encode(), "end_session with a deleted client's hint")
}

// TestPKCE: a wrong or missing verifier gets no tokens; a public client
// must send a challenge at all, and S256 only (plain, named or by
// default, is refused).
func TestPKCE(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(br, conf, "s", oauth2.S256ChallengeOption(verifier))
		if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Errorf("wrong verifier: %v, want invalid_grant", err)
		}
		// A missing verifier is a missing parameter (RFC 6749 section 5.2).
		// It read invalid_grant while a refused exchange used the code up,
		// and x/oauth2's second try (the form after Basic) met a used code.
		q = f.authorize(br, conf, "s", oauth2.S256ChallengeOption(verifier))
		if _, err := conf.Exchange(f.ctx, q.Get("code")); !isOAuthError(err, "invalid_request") {
			t.Errorf("missing verifier: %v, want invalid_request", err)
		}
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID}}
		spa.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		q = f.authorize(br, spa, "s")
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Errorf("public client without PKCE: %v, want invalid_request", q)
		}
		q = f.authorize(br, spa, "s", oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		if q.Get("error") != "invalid_request" {
			t.Errorf("plain PKCE: %v, want invalid_request", q)
		}
		// No method is plain (RFC 7636 section 4.3): refused as well.
		q = f.authorize(br, spa, "s", oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)))
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Errorf("PKCE without a method (plain by default): %v, want invalid_request", q)
		}
	})
}

func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}

// TestCodeReplay: a code works once; its second use fails and revokes
// what the first issued.
func TestCodeReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(br, conf, "s", oauth2.S256ChallengeOption(verifier))
		tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("replayed code: %v, want invalid_grant", err)
		}
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the first exchange's access token still answers userinfo")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the first exchange's refresh token still refreshes")
		}
	})
}

// TestCodeOnlyByItsClient: an authorization code travels in a URL
// (browser history, Referer, the relying party's access log), so holding
// one proves nothing: presenting it without its client's credentials
// (here, with a public client's id) or without the PKCE verifier is
// refused with invalid_grant and changes nothing. Such a request used to
// use the code up before op checked the client, so that a code not yet
// exchanged could no longer be, and a code already exchanged counted as
// replayed and revoked its client's grant: its user signed out.
func TestCodeOnlyByItsClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		web := f.webConfig()
		web.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(f.signIn(), web, "s", oauth2.S256ChallengeOption(verifier))
		strangers := func() {
			t.Helper()
			code := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {web.RedirectURL}, "code_verifier": {verifier}}
			bySPA := url.Values{"client_id": {spaClient}}
			for k, v := range code {
				bySPA[k] = v
			}
			f.wantInvalidGrant("the web app's code from "+spaClient, f.tokenRequest(bySPA, nil))
			noVerifier := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {web.RedirectURL}, "code_verifier": {oauth2.GenerateVerifier()}}
			basic := func(r *http.Request) { r.SetBasicAuth(webClient, webSecret) }
			f.wantInvalidGrant("the web app's code with another verifier", f.tokenRequest(noVerifier, basic))
		}
		strangers() // before the exchange
		tok, err := web.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("its own client's exchange after others showed the code: %v", err)
		}
		strangers() // after it
		if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("the grant after others showed its used code: %v, want it live", err)
		}
	})
}

// TestRefreshTokenOnlyByItsClient: a refresh token of the provider is
// bound to the client it was issued to (RFC 6749 section 6): another
// client presenting it, a public one by its client_id alone or a
// confidential one with its own right secret, is refused with
// invalid_grant, and the refusal changes nothing, while its own client's
// reuse of a used token still revokes the grant. It used to mark the
// token used before op compared the clients, so that any client could
// destroy another's refresh token, and its owner's next refresh was a
// reuse that revoked the whole grant: the user signed in again.
func TestRefreshTokenOnlyByItsClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		web := f.webConfig()
		web.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // its registered method, not tried again in the form
		tok := f.exchange(f.signIn(), web, "s")
		byAnother := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {spaClient}}
		for range 2 { // twice: a second showing is no reuse of the owner's either
			f.wantInvalidGrant("the web app's refresh token from "+spaClient, f.tokenRequest(byAnother, nil))
		}
		f.clients.Add(oidcop.Client{
			ID: "other-web-app", AuthMethod: oidcop.AuthSecretBasic, RedirectURIs: []string{rpOrigin + "/other"},
			GrantTypes: []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
		}, "other-web-app-secret-0123456789")
		other := f.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
			func(r *http.Request) { r.SetBasicAuth("other-web-app", "other-web-app-secret-0123456789") })
		f.wantInvalidGrant("the web app's refresh token from another confidential client with its own secret", other)
		next, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("its own client after others showed it: %v, want new tokens", err)
		}
		newest, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("the grant after others showed its token: %v, want it live", err)
		}
		// Its own client's reuse of a used token still ends the grant.
		if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("its own client reusing a used token: %v, want invalid_grant", err)
		}
		if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: newest.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("the grant after its own client reused a token: %v, want it revoked", err)
		}
	})
}

// tokenAnswer is a token endpoint's status and body.
type tokenAnswer struct {
	status int
	body   []byte
}

// tokenRequest posts form to the token endpoint, through edit when it
// is not nil.
func (f *fixture) tokenRequest(form url.Values, edit func(*http.Request)) tokenAnswer {
	f.t.Helper()
	r, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/api/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(r)
	}
	res, err := f.http.Do(r)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return tokenAnswer{res.StatusCode, b}
}

// wantInvalidGrant checks a token endpoint's answer is 400 invalid_grant.
func (f *fixture) wantInvalidGrant(what string, a tokenAnswer) {
	f.t.Helper()
	var answer struct{ Error string }
	if err := json.Unmarshal(a.body, &answer); a.status != http.StatusBadRequest || err != nil || answer.Error != "invalid_grant" {
		f.t.Fatalf("%s: %d %s, want 400 invalid_grant", what, a.status, a.body)
	}
}

// TestRevocationNeedsTheTokenItself: /oauth/revoke revokes only a token
// the caller presents. A bare string "g.<grant id>.x" (no token at all),
// sent with nothing but a public client's id, named the grant by the
// access token id format and revoked it.
func TestRevocationNeedsTheTokenItself(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
	spa.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	_, _, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	q := br.consent(hiddenID(t, page), "allow")
	tok, err := spa.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	jti, _ := jwtClaims(t, tok.AccessToken)["jti"].(string) // g.<grant id>.<random>
	parts := strings.Split(jti, ".")
	if len(parts) != 3 || parts[0] != "g" {
		t.Fatalf("jti = %q", jti)
	}
	next, err := spa.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token() // control: the grant is live
	if err != nil {
		t.Fatalf("control refresh: %v", err)
	}
	forged := "g." + parts[1] + ".not-a-token"
	f.revoke(url.Values{"client_id": {spaClient}, "token": {forged}})
	next, err = spa.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("a revocation request holding no token (%q, client_id only) revoked the grant: refresh now fails: %v", forged, err)
	}
	// The access token itself still revokes its grant.
	f.revoke(url.Values{"client_id": {spaClient}, "token": {next.AccessToken}, "token_type_hint": {"access_token"}})
	if _, err := spa.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Error("revoking the access token left its grant refreshing")
	}
}

// TestRevocationOnlyByTheTokensClient: /oauth/revoke revokes a refresh
// token only for the client it was issued to (RFC 7009 section 2.1);
// another client presenting it, here a public one by its client_id,
// changes nothing. It used to mark the token used before comparing the
// clients, so that the owner's next refresh was a reuse that revoked its
// grant. The owner's own revocation still ends the grant.
func TestRevocationOnlyByTheTokensClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		web := f.webConfig()
		web.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		tok := f.exchange(f.signIn(), web, "s")
		for range 2 {
			f.revoke(url.Values{"client_id": {spaClient}, "token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}})
		}
		next, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("its own client after another tried to revoke it: %v, want new tokens", err)
		}
		req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/oauth/revoke", strings.NewReader(url.Values{"token": {next.RefreshToken}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(webClient, webSecret)
		res, err := f.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("its own client's revocation: %d, want 200", res.StatusCode)
		}
		if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("a refresh token its client revoked: %v, want invalid_grant", err)
		}
	})
}

// TestRevocationAuthenticatesTheClient: /oauth/revoke authenticates the
// client before anything (RFC 7009 section 2.1): a confidential client's
// refresh token sent with no client, with its client_id alone or with a
// wrong secret is refused 401 invalid_client; another confidential client
// that authenticates is answered 200 and changes nothing. The token goes
// on refreshing for its own client.
func TestRevocationAuthenticatesTheClient(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	web := f.webConfig()
	web.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	tok := f.exchange(f.signIn(), web, "s")
	post := func(form url.Values, id, secret string) int {
		t.Helper()
		form.Set("token", tok.RefreshToken)
		req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.base+"/oauth/revoke", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		res, err := f.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for name, status := range map[string]int{
		"no client":            post(url.Values{}, "", ""),
		"its client_id alone":  post(url.Values{"client_id": {webClient}}, "", ""),
		"a wrong secret":       post(url.Values{}, webClient, "wrong"),
		"a wrong secret, post": post(url.Values{"client_id": {webClient}, "client_secret": {"wrong"}}, "", ""),
	} {
		if status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, status)
		}
	}
	if status := post(url.Values{}, serviceClient, serviceSecret); status != http.StatusOK {
		t.Errorf("another confidential client: %d, want 200", status)
	}
	if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("its own client after the refused revocations: %v, want new tokens", err)
	}
}

// revoke posts form to /oauth/revoke.
func (f *fixture) revoke(form url.Values) {
	f.t.Helper()
	res, err := f.http.PostForm(f.base+"/oauth/revoke", form)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
}

// TestAuthorizeCallbackIsNotServed: op's own callback route
// (/oauth/authorize/callback?id=...) would hand out a fresh code for any
// finished request to whoever names its id, with no browser session and
// with the victim's state, and presenting that code (no client
// authentication) would count as a replay and revoke the victim's grant.
// It answers 404, and the victim's grant lives on.
func TestAuthorizeCallbackIsNotServed(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	conf := f.webConfig()
	verifier := oauth2.GenerateVerifier()
	victim := f.browser()
	id := victim.pendingRequestID(conf.AuthCodeURL("victim-state", oauth2.S256ChallengeOption(verifier)))
	back := "/oauth/login?id=" + url.QueryEscape(id)
	if status, _ := victim.form("/sign-in", url.Values{"login": {f.username}, "password": {password}, "return_to": {back}}); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	to, _, body := victim.visit(f.base + back)
	if to == nil || to.Query().Get("code") == "" {
		t.Fatalf("victim's callback: %v %s", to, body)
	}
	tok, err := conf.Exchange(f.ctx, to.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	// The attacker: no cookies, no client credentials, only the id.
	noRedirect := &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(f.base + "/oauth/authorize/callback?id=" + url.QueryEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /oauth/authorize/callback = %d to %v, want 404", res.StatusCode, loc)
	}
	if loc == nil || loc.Query().Get("code") == "" {
		return // no code handed out
	}
	t.Errorf("GET /oauth/authorize/callback?id=<request id> without any session = %d with a new code and state=%q",
		res.StatusCode, loc.Query().Get("state"))
	res, err = f.http.PostForm(f.base+"/api/v1/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {webClient}, "redirect_uri": {conf.RedirectURL}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("and presenting that code without client authentication revoked the victim's grant: %v", err)
	}
}

// TestAuthorizeRefusals: an unregistered redirect URI is never
// redirected to; prompt=none without a session answers login_required.
func TestAuthorizeRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		evil := *conf
		evil.RedirectURL = "https://evil.example/cb"
		loc, status, _ := f.browser().visit(evil.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if loc != nil || status != http.StatusBadRequest {
			t.Errorf("unregistered redirect URI: %d to %v, want 400 and no redirect", status, loc)
		}
		near := *conf
		near.RedirectURL = rpOrigin + "/cb/"
		if loc, status, _ := f.browser().visit(near.AuthCodeURL("s")); loc != nil || status != http.StatusBadRequest {
			t.Errorf("a redirect URI one character off: %d to %v, want 400 (exact matching)", status, loc)
		}
		q := f.authorize(f.browser(), conf, "s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"))
		if q.Get("error") != "login_required" {
			t.Errorf("prompt=none without a session: %v, want login_required", q)
		}
		// Without a session and without prompt=none: to the hosted sign-in.
		res, err := f.browser().c.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if !strings.HasPrefix(res.Request.URL.Path, "/sign-in") || !strings.HasPrefix(res.Request.URL.Query().Get("return_to"), "/oauth/login?id=") {
			t.Errorf("no session: ended at %s, want /sign-in?return_to=/oauth/login?id=...", res.Request.URL)
		}
	})
}

// TestConsent: a third-party client gets the consent page once per scope
// set; denying answers access_denied; prompt=none needing consent answers
// consent_required.
func TestConsent(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "email"}}
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(br, spa, "s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
		if q.Get("error") != "consent_required" {
			t.Fatalf("prompt=none before consent: %v, want consent_required", q)
		}
		loc, status, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if loc != nil || status != http.StatusOK || !strings.Contains(page, "Allow spa") {
			t.Fatalf("consent page: %d %v %s", status, loc, page)
		}
		id := hiddenID(t, page)
		if q := br.consent(id, "deny"); q.Get("error") != "access_denied" {
			t.Errorf("deny: %v, want access_denied", q)
		}
		// The client was told access_denied: an allow posted after it for
		// the same request (another tab, the back button) gives no code.
		if status, loc := br.form("/oauth/consent", url.Values{"id": {id}, "decision": {"allow"}}); status != http.StatusBadRequest {
			t.Errorf("allow after deny for the same request: %d to %q, want 400", status, loc)
		}
		_, _, page = br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		q = br.consent(hiddenID(t, page), "allow")
		if q.Get("code") == "" {
			t.Fatalf("allow: %v, want a code", q)
		}
		spa.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := spa.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("public client exchange: %v", err)
		}
		// Remembered: no page the second time.
		q = f.authorize(br, spa, "s", oauth2.S256ChallengeOption(verifier))
		if q.Get("code") == "" {
			t.Fatalf("after consent: %v, want a code without the page", q)
		}
	})
}

// TestPasswordChangeEndsProviderGrants: the service promises that a
// password change makes every access token issued before it invalid
// (docs/security.md). A password change on the account page keeps the
// page session, which the provider's grants hang on; the provider never
// looked at the token version, so its access token from before the change
// stayed active at introspection and userinfo, and its refresh token kept
// refreshing. A grant made after the change lives.
func TestPasswordChangeEndsProviderGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		tok := f.exchange(br, conf, "s")
		f.srv.Clock.Advance(time.Second)
		if status, loc := br.form("/account/password", url.Values{"current_password": {password}, "new_password": {"another horse battery staple 2"}}); status != http.StatusSeeOther || !strings.Contains(loc, "password_changed") {
			t.Fatalf("change password: %d to %q", status, loc)
		}
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] == true {
			t.Errorf("the provider's access token issued before the password change is still active at introspection")
		}
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Errorf("the provider's access token issued before the password change still reads userinfo")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Errorf("the provider's refresh token issued before the password change still refreshes")
		}
		// The page session lives on: a new authorization gives a live grant.
		tok = f.exchange(br, conf, "s2")
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] != true {
			t.Errorf("a grant made after the password change = %v, want active", got)
		}
	})
}

// TestConsentAppliesTheSignInAge: prompt=login (or max_age) sends a
// browser signed in too long ago to sign in again. Posting the consent
// form for that request instead, with the old session, must not get a
// code with the old auth_time: the post is held to the same rules and
// answers login_required as login would the second time.
func TestConsentAppliesTheSignInAge(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	f.srv.Clock.Advance(10 * time.Minute)
	conf := f.webConfig()
	verifier := oauth2.GenerateVerifier()
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "60")} {
		id := br.pendingRequestID(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), opt))
		if q := br.consent(id, "allow"); q.Get("code") != "" || q.Get("error") != "login_required" {
			t.Errorf("%v: consent posted from the old session: %v, want login_required and no code", opt, q)
		}
	}
}

// TestConsentTakesOnlyTheAnswerToItsPage: a consent post is taken only
// for a request whose consent page was shown to the posting session; a
// request that never asked (a first-party client's) gets no code from a
// made-up post, however fresh the session.
func TestConsentTakesOnlyTheAnswerToItsPage(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	f.srv.Clock.Advance(time.Minute)
	conf := f.webConfig()
	verifier := oauth2.GenerateVerifier()
	id := br.pendingRequestID(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
	f.srv.Clock.Advance(time.Second)
	if status, _ := br.form("/sign-in", url.Values{"login": {f.username}, "password": {password}}); status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d", status)
	}
	if status, loc := br.form("/oauth/consent", url.Values{"id": {id}, "decision": {"allow"}}); status != http.StatusBadRequest {
		t.Errorf("consent posted for a request that showed no consent page: %d to %q, want 400", status, loc)
	}
}

func hiddenID(t *testing.T, page string) string {
	t.Helper()
	const marker = `name="id" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no request id in the page: %s", page)
	}
	rest := page[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// consent posts the consent form from the page's origin and returns the
// callback the client receives.
func (b *browser) consent(id, decision string) url.Values {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.f.base+"/oauth/consent", strings.NewReader(url.Values{"id": {id}, "decision": {decision}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		body, _ := io.ReadAll(res.Body)
		b.f.t.Fatalf("consent %s: %d %s", decision, res.StatusCode, body)
	}
	if loc.Query().Get("iss") != b.f.base {
		b.f.t.Errorf("consent answer without the iss parameter: %s", loc)
	}
	return loc.Query()
}

// TestIntrospection: a confidential client sees a live token active, and
// inactive once its session is revoked.
func TestIntrospection(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		tok := f.exchange(br, conf, "s")
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] != true || got["client_id"] != webClient {
			t.Fatalf("introspection of a live token = %v, want active", got)
		}
		if got := f.introspect(webClient, "wrong", tok.AccessToken); got != nil {
			t.Fatalf("introspection with a wrong secret = %v, want refused", got)
		}
		// The user signs out of the pages: the session behind the token ends.
		if status, _ := br.form("/sign-out", nil); status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", status)
		}
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] != false {
			t.Fatalf("introspection after the session was revoked = %v, want inactive", got)
		}
	})
}

// introspect asks /oauth/introspect as client; nil when refused.
func (f *fixture) introspect(client, secret, token string) map[string]any {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil
	}
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		f.t.Fatal(err)
	}
	return m
}

// TestIntrospectionOnlyByTheTokensClient: a service account (any
// confidential client) introspecting an access token issued to another
// client (aud web-app) was told it is active, with the user's email and
// username. RFC 7662 section 4 expects the server to check that the
// caller may introspect that token: here, only the token's own client.
func TestIntrospectionOnlyByTheTokensClient(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	conf := f.webConfig()
	tok := f.exchange(br, conf, "s")
	if got := f.introspect(serviceClient, serviceSecret, tok.AccessToken); got["active"] == true {
		t.Errorf("client %s introspected %s's token: %v", serviceClient, webClient, got)
	}
	cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: f.provider.Endpoint().TokenURL}
	service, err := cc.Token(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.introspect(webClient, webSecret, service.AccessToken); got["active"] == true {
		t.Errorf("client %s introspected %s's own token: %v", webClient, serviceClient, got)
	}
	if got := f.introspect(serviceClient, serviceSecret, service.AccessToken); got["active"] != true {
		t.Errorf("a service account introspecting its own token = %v, want active", got)
	}
}

// TestClientCredentials: a service account gets a JWT with client_id,
// sub, scope and no sid, for the scopes it may have only.
func TestClientCredentials(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret,
			TokenURL: f.provider.Endpoint().TokenURL, Scopes: []string{"users:read"}}
		tok, err := cc.Token(f.ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		claims := jwtClaims(t, tok.AccessToken)
		if claims["sub"] != serviceClient || claims["client_id"] != serviceClient || claims["scope"] != "users:read" ||
			claims["iss"] != f.base || claims["sid"] != nil || !audience(claims, "usersvc") {
			t.Fatalf("service token claims = %v", claims)
		}
		cc.Scopes = []string{"users:write"}
		if _, err := cc.Token(f.ctx); !isOAuthError(err, "invalid_scope") {
			t.Errorf("a scope the client may not have: %v, want invalid_scope", err)
		}
		cc.Scopes, cc.ClientSecret = nil, "wrong"
		if _, err := cc.Token(f.ctx); !isOAuthError(err, "invalid_client") {
			t.Errorf("a wrong secret: %v, want invalid_client", err)
		}
		// A client without the grant (the web app) cannot.
		cc.ClientID, cc.ClientSecret = webClient, webSecret
		if _, err := cc.Token(f.ctx); err == nil {
			t.Error("a client without client_credentials got a token")
		}
	})
}

// TestClientCredentialsOfAClientWithoutTheGrant: a confidential client
// that authenticates but is not allowed client_credentials was answered
// 401 invalid_client (op takes any error of ClientCredentials for a failed
// authentication); RFC 6749 section 5.2 makes it 400 unauthorized_client.
// A wrong secret stays invalid_client, saying nothing of the grants.
func TestClientCredentialsOfAClientWithoutTheGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		grant := url.Values{"grant_type": {"client_credentials"}}
		for _, tt := range []struct {
			name, secret string
			status       int
			code         string
		}{
			{"its secret", webSecret, http.StatusBadRequest, "unauthorized_client"},
			{"a wrong secret", "wrong", http.StatusUnauthorized, "invalid_client"},
		} {
			a := f.tokenRequest(grant, func(r *http.Request) { r.SetBasicAuth(webClient, tt.secret) })
			var answer struct{ Error string }
			if err := json.Unmarshal(a.body, &answer); a.status != tt.status || err != nil || answer.Error != tt.code {
				t.Errorf("client_credentials of a client without the grant, %s: %d %s, want %d %s", tt.name, a.status, a.body, tt.status, tt.code)
			}
		}
	})
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func audience(claims map[string]any, aud string) bool {
	switch a := claims["aud"].(type) {
	case string:
		return a == aud
	case []any:
		return slices.Contains(a, any(aud))
	}
	return false
}

// TestClientSecretOnlyByTheRegisteredMethod: web-app is registered with
// client_secret_basic; its secret sent in the form (client_secret_post)
// was accepted as well, the registry being told the registered method
// instead of the one the request used.
func TestClientSecretOnlyByTheRegisteredMethod(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	br := f.signIn()
	conf := f.webConfig()
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	q := f.authorize(br, conf, "s", oauth2.S256ChallengeOption(verifier))
	if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Errorf("a client_secret_basic client authenticated with client_secret in the form")
	}
	cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: f.provider.Endpoint().TokenURL,
		AuthStyle: oauth2.AuthStyleInParams}
	if _, err := cc.Token(f.ctx); err == nil {
		t.Errorf("a client_secret_basic service account authenticated with client_secret in the form")
	}
	cc.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := cc.Token(f.ctx); err != nil {
		t.Errorf("the same service account by its registered method: %v", err)
	}
	// A client_secret_post client: the other way round at the token
	// endpoint; introspection takes HTTP Basic from every client.
	f.clients.Add(oidcop.Client{ID: "poster", AuthMethod: oidcop.AuthSecretPost, GrantTypes: []string{oidcop.GrantClientCredentials},
		Scopes: []string{"users:read"}}, "poster-secret-0123456789")
	cc = clientcredentials.Config{ClientID: "poster", ClientSecret: "poster-secret-0123456789", TokenURL: f.provider.Endpoint().TokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cc.Token(f.ctx); err == nil {
		t.Errorf("a client_secret_post service account authenticated with HTTP Basic at the token endpoint")
	}
	cc.AuthStyle = oauth2.AuthStyleInParams
	tok, err := cc.Token(f.ctx)
	if err != nil {
		t.Fatalf("the client_secret_post service account by its registered method: %v", err)
	}
	if got := f.introspect("poster", "poster-secret-0123456789", tok.AccessToken); got["active"] != true {
		t.Errorf("a client_secret_post client introspecting its own token with HTTP Basic = %v, want active", got)
	}
}

// TestPasswordGrantUnchanged: /api/v1/token still answers the password
// and its own refresh grants beside the provider's.
func TestPasswordGrantUnchanged(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	b := f.post("/api/v1/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}}.Encode(), http.StatusOK)
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(b, &tok)
	f.post("/api/v1/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode(), http.StatusOK)
}

// TestServiceAccountOfTheRegistry: a service account of the client
// registry gets a client_credentials token that the service's own
// verifier takes as a service account's, and that introspection reports
// active.
func TestServiceAccountOfTheRegistry(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		ts := httptest.NewUnstartedServer(nil)
		base := "http://" + ts.Listener.Addr().String()
		srv := apptest.New(t, kind, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", base))
		ts.Config.Handler = srv.Handler
		ts.Start()
		t.Cleanup(ts.Close)
		admin := user.User{ID: uuid.New(), Role: user.RoleAdmin, IsActive: true}
		c, secret, err := srv.App.Clients().Create(t.Context(), admin, oauthclient.NewClient{
			Name: "reporting", Confidential: true, Grants: []string{oauthclient.GrantClientCredentials},
			Scopes: []string{oauthclient.ScopeUsersRead},
		})
		if err != nil {
			t.Fatalf("register the service account: %v", err)
		}
		ctx := oidc.ClientContext(t.Context(), ts.Client())
		p, err := oidc.NewProvider(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: p.Endpoint().TokenURL,
			Scopes: []string{oauthclient.ScopeUsersRead}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if claims, err := srv.App.Tokens().Verify(tok.AccessToken); err != nil || !claims.IsServiceAccount() || claims.ClientID != c.ID {
			t.Errorf("the service's verifier: %+v, %v; want the service account %s", claims, err, c.ID)
		}
		// Introspection by the service account itself (a confidential
		// client): its own token is active.
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ID, secret)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if got["active"] != true || got["client_id"] != c.ID {
			t.Errorf("introspection of the service token = %v, want active", got)
		}
	})
}

// TestSignInHandoff: a browser without a session goes from /authorize to
// the hosted sign-in page and back, and the client gets its code;
// prompt=login sends a signed-in browser to sign in again, and the code
// then carries the new sign-in's auth_time.
func TestSignInHandoff(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		b := f.browser()
		res, err := b.c.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		back := res.Request.URL.Query().Get("return_to")
		if res.Request.URL.Path != "/sign-in" || !strings.HasPrefix(back, "/oauth/login?id=") || !strings.Contains(string(page), `name="password"`) {
			t.Fatalf("authorize without a session ended at %s, want the sign-in form with return_to", res.Request.URL)
		}
		status, loc := b.form("/sign-in", url.Values{"login": {f.username}, "password": {password}, "return_to": {back}})
		if status != http.StatusSeeOther || loc != back {
			t.Fatalf("sign in: %d to %q, want 303 back to %q", status, loc, back)
		}
		to, _, body := b.visit(f.base + loc)
		if to == nil || to.Query().Get("code") == "" || to.Query().Get("iss") != f.base {
			t.Fatalf("back from sign-in: %v %s, want the client's callback with a code and iss", to, body)
		}
		if _, err := conf.Exchange(f.ctx, to.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange: %v", err)
		}

		// prompt=login: signed in, yet sent to sign in again.
		f.srv.Clock.Advance(time.Minute)
		res, err = b.c.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		back = res.Request.URL.Query().Get("return_to")
		if res.Request.URL.Path != "/sign-in" || back == "" {
			t.Fatalf("prompt=login ended at %s, want the sign-in form", res.Request.URL)
		}
		if status, loc = b.form("/sign-in", url.Values{"login": {f.username}, "password": {password}, "return_to": {back}}); status != http.StatusSeeOther {
			t.Fatalf("sign in again: %d", status)
		}
		to, _, body = b.visit(f.base + loc)
		if to == nil || to.Query().Get("code") == "" {
			t.Fatalf("prompt=login after signing in again: %v %s, want a code", to, body)
		}
		tok, err := conf.Exchange(f.ctx, to.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: webClient}).Verify(f.ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			AuthTime int64 `json:"auth_time"`
		}
		_ = idt.Claims(&claims)
		if want := f.srv.Clock.Now().Unix(); claims.AuthTime != want {
			t.Errorf("auth_time = %d, want the second sign-in's %d", claims.AuthTime, want)
		}

		// max_age=1 a minute after signing in: to sign in again;
		// with prompt=none, login_required.
		f.srv.Clock.Advance(time.Minute)
		q := f.authorize(b, conf, "s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("max_age", "1"),
			oauth2.SetAuthURLParam("prompt", "none"))
		if q.Get("error") != "login_required" {
			t.Errorf("max_age passed with prompt=none: %v, want login_required", q)
		}
	})
}

// TestIDTokenHintNamesTheUser: an id_token_hint names the user the client
// expects. From a browser signed in as someone else, prompt=none answers
// login_required (OIDC Core 3.1.2.1) and without it the browser is sent
// to sign in again, never answered with a code for the other user.
func TestIDTokenHintNamesTheUser(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	conf := f.webConfig()
	ada := f.signIn()
	hint := f.exchange(ada, conf, "s").Extra("id_token").(string)
	verifier := oauth2.GenerateVerifier()
	if q := f.authorize(ada, conf, "s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.SetAuthURLParam("id_token_hint", hint)); q.Get("code") == "" {
		t.Fatalf("prompt=none with ada's own hint: %v, want a code", q)
	}

	f.post("/api/v1/register", "application/json", `{"email":"bob@example.com","username":"bob","password":"`+password+`"}`, http.StatusCreated)
	f.username = "bob"
	bob := f.signIn()
	q := f.authorize(bob, conf, "s", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint))
	if q.Get("error") != "login_required" {
		t.Errorf("prompt=none with ada's id_token_hint from bob's browser: %v, want login_required", q)
	}
	res, err := bob.c.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("id_token_hint", hint)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/sign-in" || res.Request.URL.Query().Get("prompt") != "login" {
		t.Errorf("ada's id_token_hint from bob's browser ended at %s, want the sign-in form (prompt=login)", res.Request.URL)
	}
}

// TestPendingRequestIsBoundToItsBrowser: a pending request (the victim's,
// with the relying party's state and PKCE challenge for the victim's
// browser) must not be finished by another signed-in browser that names
// its id at /oauth/login: that would give the attacker a code for the
// attacker's account carrying the victim's state and redeemed with the
// victim's verifier, which passes the relying party's checks once
// planted in the victim's browser (login CSRF). Only the browser holding
// the binding cookie of /oauth/authorize finishes it, once.
func TestPendingRequestIsBoundToItsBrowser(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	conf := f.webConfig()
	victimVerifier := oauth2.GenerateVerifier()
	victim := f.browser()
	id := victim.pendingRequestID(conf.AuthCodeURL("victim-state", oauth2.S256ChallengeOption(victimVerifier)))
	back := f.base + "/oauth/login?id=" + url.QueryEscape(id)

	f.post("/api/v1/register", "application/json", `{"email":"mallory@example.com","username":"mallory","password":"`+password+`"}`, http.StatusCreated)
	f.username = "mallory"
	attacker := f.signIn()
	if to, status, _ := attacker.visit(back); to != nil || status != http.StatusBadRequest {
		t.Errorf("another browser at the victim's /oauth/login: %d to %v, want 400 and nothing sent to the client", status, to)
	}
	if status, loc := attacker.form("/oauth/consent", url.Values{"id": {id}, "decision": {"allow"}}); status != http.StatusBadRequest {
		t.Errorf("another browser posting consent for the victim's request: %d to %q, want 400", status, loc)
	}

	f.username = "ada"
	if status, _ := victim.form("/sign-in", url.Values{"login": {"ada"}, "password": {password}}); status != http.StatusSeeOther {
		t.Fatalf("victim signs in: %d", status)
	}
	to, _, body := victim.visit(back)
	if to == nil || to.Query().Get("code") == "" || to.Query().Get("state") != "victim-state" {
		t.Fatalf("the victim's own browser: %v %s, want its code", to, body)
	}
	if to, status, _ := victim.visit(back); to != nil || status != http.StatusBadRequest {
		t.Errorf("the finished request run again: %d to %v, want 400", status, to)
	}
}

// TestBindingCookie: the authorization endpoint's redirect to sign in
// sets the binding cookie: HttpOnly, SameSite=Lax (the relying party's
// cross-site redirect here still carries it), only on the provider's
// paths, for as long as a request lives; not Secure on this plain-http
// test issuer only.
func TestBindingCookie(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	noRedirect := &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(f.webConfig().AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); res.StatusCode != http.StatusFound || loc == nil || loc.Path != "/oauth/login" {
		t.Fatalf("authorize = %d to %v, want 302 to /oauth/login", res.StatusCode, loc)
	}
	for _, c := range res.Cookies() {
		if c.Name != "usersvc_oauth" {
			continue
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/oauth/" || c.MaxAge <= 0 || c.Secure || len(c.Value) < 43 {
			t.Errorf("binding cookie = %+v, want HttpOnly, SameSite=Lax, Path=/oauth/, a Max-Age and a random value", c)
		}
		return
	}
	t.Errorf("authorize set no binding cookie: %v", res.Header.Values("Set-Cookie"))
}
