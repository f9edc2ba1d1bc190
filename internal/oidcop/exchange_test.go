package oidcop_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oidcop"
)

// heldCodeUse holds the first exchange of a code once the store has used
// the code up, until release is closed: the moment another exchange of
// the same code is refused.
type heldCodeUse struct {
	oidcop.Grants
	used    chan struct{} // closed when the first use is held
	release chan struct{}
	calls   atomic.Int32
}

func (h *heldCodeUse) UseCode(ctx context.Context, codeHash []byte, g oidcop.Grant) (oidcop.AuthRequest, error) {
	r, err := h.Grants.UseCode(ctx, codeHash, g)
	if h.calls.Add(1) == 1 {
		close(h.used)
		<-h.release
	}
	return r, err
}

// TestRacingCodeExchangesEndTheGrant: two exchanges of one code at once
// (a thief's and its client's), the second arriving once the first has
// used the code up but before it issued its tokens. The second was
// refused but found no grant to revoke (the first noted its grant on the
// request only later), so the first went on to issue tokens that kept
// working: a double use that revoked nothing (RFC 6749 section 4.1.2,
// RFC 9700 section 4.5). Whatever the winner got must not work.
func TestRacingCodeExchangesEndTheGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		held := &heldCodeUse{used: make(chan struct{}), release: make(chan struct{})}
		hold := app.WithOIDCStores(func(s oidcop.Stores) oidcop.Stores {
			held.Grants, s.Grants = s.Grants, held
			return s
		})
		f := newFixtureWith(t, kind, []apptest.Option{apptest.With(hold)})
		conf := f.webConfig()
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // one request per exchange: no second try in the form
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(f.signIn(), conf, "s", oauth2.S256ChallengeOption(verifier))
		type answer struct {
			tok *oauth2.Token
			err error
		}
		first := make(chan answer, 1)
		go func() {
			tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			first <- answer{tok, err}
		}()
		select {
		case <-held.used:
		case a := <-first:
			t.Fatalf("the first exchange ended (%v) without using the code up", a.err)
		}
		_, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		close(held.release)
		if !isOAuthError(err, "invalid_grant") {
			t.Errorf("the second exchange of the code: %v, want invalid_grant", err)
		}
		won := <-first
		if won.err != nil {
			return // the first got nothing either
		}
		if got := f.introspect(webClient, webSecret, won.tok.AccessToken); got["active"] == true {
			t.Error("the first exchange's access token is active at introspection after a double use of its code")
		}
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(won.tok)); err == nil {
			t.Error("the first exchange's access token answers userinfo after a double use of its code")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: won.tok.RefreshToken}).Token(); err == nil {
			t.Error("the first exchange's refresh token refreshes after a double use of its code")
		}
	})
}

// TestNoIDTokenWithoutOpenID: an authorization request whose scope has no
// openid is a plain OAuth 2.0 request, not an OpenID one (OpenID Connect
// Core 3.1.2.1): its client gets an access token and a refresh token,
// and no ID token, at the exchange or at a refresh. The provider issued
// one all the same (op makes one for every code and refresh grant).
func TestNoIDTokenWithoutOpenID(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		conf.Scopes = []string{"profile", oidc.ScopeOfflineAccess}
		tok := f.exchange(f.signIn(), conf, "s")
		if tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("exchange = %+v, want an access token and a refresh token", tok)
		}
		if id := tok.Extra("id_token"); id != nil {
			t.Errorf("the exchange of a request without openid gave an ID token: %v", id)
		}
		next, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if id := next.Extra("id_token"); id != nil {
			t.Errorf("a refresh of a grant without openid gave an ID token: %v", id)
		}
		if got := f.introspect(webClient, webSecret, next.AccessToken); got["active"] != true {
			t.Errorf("the refreshed access token = %v, want active", got)
		}
	})
}

// keptCopy keeps the copy of each auth request saved with its code: what
// a step that read the request before the code was exchanged would write
// back after it.
type keptCopy struct {
	oidcop.Grants
	mu    sync.Mutex
	coded oidcop.AuthRequest
}

func (k *keptCopy) SaveAuthRequest(ctx context.Context, r oidcop.AuthRequest) error {
	if r.CodeHash != nil {
		k.mu.Lock()
		k.coded = r
		k.mu.Unlock()
	}
	return k.Grants.SaveAuthRequest(ctx, r)
}

// TestStaleSaveKeepsTheCodesGrant: a save of the request from a copy read
// before its code was exchanged, landing after the exchange, wrote back
// the request without the grant the exchange named on it, so that a
// replay of the code found no grant to revoke and the first exchange's
// tokens kept working (RFC 6749 section 4.1.2). No step of the provider
// makes such a save today (each refuses a finished request), so the test
// writes it through the store, which must refuse it: no save may undo the
// exchange.
func TestStaleSaveKeepsTheCodesGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		kept := &keptCopy{}
		hook := app.WithOIDCStores(func(s oidcop.Stores) oidcop.Stores {
			kept.Grants, s.Grants = s.Grants, kept
			return s
		})
		f := newFixtureWith(t, kind, []apptest.Option{apptest.With(hook)})
		conf := f.webConfig()
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(f.signIn(), conf, "s", oauth2.S256ChallengeOption(verifier))
		tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		kept.mu.Lock()
		stale := kept.coded
		kept.mu.Unlock()
		if stale.CodeHash == nil {
			t.Fatal("no request was saved with its code")
		}
		_ = kept.Grants.SaveAuthRequest(f.ctx, stale) // refused or not: what counts is what a replay finds
		if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("replayed code: %v, want invalid_grant", err)
		}
		if got := f.introspect(webClient, webSecret, tok.AccessToken); got["active"] == true {
			t.Error("the first exchange's access token is active after its code was replayed")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the first exchange's refresh token refreshes after its code was replayed")
		}
	})
}

// TestPKCEVerifierSyntax: a code_verifier that is not 43 to 128 characters
// of [A-Z] [a-z] [0-9] - . _ ~ (RFC 7636 section 4.1) is a malformed
// parameter, invalid_request (RFC 6749 section 5.2); it was hashed and
// compared like any other and answered invalid_grant. Refused before the
// code is looked at: the code still works with its verifier, and so do
// verifiers at both bounds of the syntax.
func TestPKCEVerifierSyntax(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		conf := f.webConfig()
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		verifier := oauth2.GenerateVerifier()
		q := f.authorize(br, conf, "s", oauth2.S256ChallengeOption(verifier))
		for _, tt := range []struct{ name, verifier string }{
			{"42 characters", verifier[:42]},
			{"129 characters", strings.Repeat("a", 129)},
			{"a plus sign", verifier[:42] + "+"},
			{"a space", verifier[:42] + " "},
			{"a non-ASCII letter", verifier[:42] + "é"},
		} {
			if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(tt.verifier)); !isOAuthError(err, "invalid_request") {
				t.Errorf("verifier with %s: %v, want invalid_request", tt.name, err)
			}
		}
		if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("x/oauth2's verifier (%d characters) after the refusals: %v", len(verifier), err)
		}
		longest := strings.Repeat("AZaz09-._~", 12) + "abcdefgh" // 128
		q = f.authorize(br, conf, "s", oauth2.S256ChallengeOption(longest))
		if _, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(longest)); err != nil {
			t.Errorf("a verifier of %d characters: %v", len(longest), err)
		}
	})
}

// heldRead holds the first read of an auth request once armed, until
// release is closed: a step of the provider that read the request and
// has yet to save it.
type heldRead struct {
	oidcop.Grants
	armed   atomic.Bool
	read    chan struct{} // closed when the read is held
	release chan struct{}
}

func (h *heldRead) AuthRequest(ctx context.Context, id string) (oidcop.AuthRequest, error) {
	r, err := h.Grants.AuthRequest(ctx, id)
	if h.armed.CompareAndSwap(true, false) {
		close(h.read)
		<-h.release
	}
	return r, err
}

// TestConsentDenyIsNotUndoneByARacingAllow: "allow" posted in one tab and
// "deny" in another for one consent page. The allow read the request
// before the deny ended it; its save, landing after, wrote the request
// back from its copy, and a code went to the client that had been told
// access_denied. A request that is done takes no save but its code's.
func TestConsentDenyIsNotUndoneByARacingAllow(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		held := &heldRead{read: make(chan struct{}), release: make(chan struct{})}
		hook := app.WithOIDCStores(func(s oidcop.Stores) oidcop.Stores {
			held.Grants, s.Grants = s.Grants, held
			return s
		})
		f := newFixtureWith(t, kind, []apptest.Option{apptest.With(hook)})
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "email"}}
		_, status, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if status != http.StatusOK {
			t.Fatalf("consent page: %d %s", status, page)
		}
		id := hiddenID(t, page)
		held.armed.Store(true)
		allowed := make(chan consentAnswer, 1)
		go func() { allowed <- br.postConsent(id, "allow") }()
		select {
		case <-held.read:
		case a := <-allowed:
			t.Fatalf("the allow ended (%d %v %v) without reading the request", a.status, a.to, a.err)
		}
		if q := br.consent(id, "deny"); q.Get("error") != "access_denied" {
			t.Errorf("deny: %v, want access_denied", q)
		}
		close(held.release)
		a := <-allowed
		if a.err != nil {
			t.Fatalf("the allow: %v", a.err)
		}
		if a.status >= http.StatusInternalServerError || (a.to != nil && a.to.Query().Get("code") != "") {
			t.Errorf("the allow that read the request before the deny ended it: %d to %v, want no code", a.status, a.to)
		}
		// Nor is the losing allow remembered: the client's next request
		// asks again, as the deny the client was told of says.
		held.armed.Store(false)
		if to, status, page := br.visit(spa.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); status != http.StatusOK || !strings.Contains(page, `name="decision"`) {
			t.Errorf("the next request after the deny: %d to %v, want the consent page again", status, to)
		}
	})
}

// consentAnswer is the answer to a consent post: its status and where it
// sends the browser (nil: nowhere).
type consentAnswer struct {
	status int
	to     *url.URL
	err    error
}

// postConsent is consent for another goroutine than the test's: it
// reports what it got instead of failing the test.
func (b *browser) postConsent(id, decision string) consentAnswer {
	req, err := http.NewRequest(http.MethodPost, b.f.base+"/oauth/consent", strings.NewReader(url.Values{"id": {id}, "decision": {decision}}.Encode()))
	if err != nil {
		return consentAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := b.c.Do(req)
	if err != nil {
		return consentAnswer{err: err}
	}
	defer res.Body.Close()
	to, _ := res.Location() // none: not sent anywhere
	return consentAnswer{status: res.StatusCode, to: to}
}
