package browsertest_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// relyingParty is a third-party web application signing its users in
// through the service, as one would be written with golang.org/x/oauth2
// and github.com/coreos/go-oidc/v3: discovery, the authorization code
// flow with PKCE, state and nonce, the ID token verified, userinfo,
// refresh and RP-initiated logout. It serves on 127.0.0.1 (its own
// origin, not the service's) and keeps one browser's sign-in.
type relyingParty struct {
	URL      string
	ctx      context.Context
	provider *oidc.Provider
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu                    sync.Mutex
	state, nonce, pkce    string
	token                 *oauth2.Token
	rawIDToken, subject   string
	email, iss, sessionID string
	failure               error
	endSessionEndpoint    string
}

// newRelyingParty discovers the provider at issuer and registers itself
// as a third-party confidential client through the client registry.
func newRelyingParty(t *testing.T, site *browsertest.Site, firstParty bool) *relyingParty {
	t.Helper()
	rp := &relyingParty{}
	ts := httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(ts.Close)
	rp.URL = ts.URL
	admin := user.User{ID: uuid.New(), Role: user.RoleAdmin, IsActive: true}
	c, secret, err := site.App.Clients().Create(t.Context(), admin, oauthclient.NewClient{
		Name: "Partner app", Confidential: true, RedirectURIs: []string{rp.URL + "/callback"},
		PostLogoutRedirectURIs: []string{rp.URL + "/signed-out"},
		Scopes:                 []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		FirstParty:             firstParty,
	})
	if err != nil {
		t.Fatalf("register the relying party: %v", err)
	}
	rp.ctx = t.Context()
	if rp.provider, err = oidc.NewProvider(rp.ctx, site.URL); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := rp.provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("discovery document without end_session_endpoint: %v", err)
	}
	rp.endSessionEndpoint = meta.EndSession
	rp.conf = &oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: rp.provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	rp.verifier = rp.provider.VerifierContext(rp.ctx, &oidc.Config{ClientID: c.ID})
	return rp
}

func (rp *relyingParty) serve(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	switch r.URL.Path {
	case "/":
		page(w, "Partner app", `<a id="sign-in" href="/login">Sign in with usersvc</a>`)
	case "/login":
		rp.state, rp.nonce, rp.pkce = oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
		http.Redirect(w, r, rp.conf.AuthCodeURL(rp.state, oauth2.S256ChallengeOption(rp.pkce), oidc.Nonce(rp.nonce)), http.StatusFound)
	case "/callback":
		if err := rp.callback(r); err != nil {
			rp.failure = err
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		page(w, "Signed in", `<p id="who">`+html.EscapeString(rp.email)+`</p><a id="sign-out" href="/logout">Sign out</a>`)
	case "/logout":
		q := url.Values{"id_token_hint": {rp.rawIDToken}, "post_logout_redirect_uri": {rp.URL + "/signed-out"}, "state": {"bye"}}
		http.Redirect(w, r, rp.endSessionEndpoint+"?"+q.Encode(), http.StatusFound)
	case "/signed-out":
		if r.URL.Query().Get("state") != "bye" {
			rp.failure = errors.New("signed-out without the logout's state")
		}
		page(w, "Signed out", `<p id="bye">You are signed out.</p>`)
	default:
		http.NotFound(w, r)
	}
}

// callback checks the authorization response (iss, state), exchanges the
// code with the PKCE verifier, verifies the ID token and its nonce, and
// asks userinfo.
func (rp *relyingParty) callback(r *http.Request) error {
	q := r.URL.Query()
	rp.iss = q.Get("iss")
	switch {
	case q.Get("error") != "":
		return fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != rp.state:
		return errors.New("state mismatch")
	}
	tok, err := rp.conf.Exchange(rp.ctx, q.Get("code"), oauth2.VerifierOption(rp.pkce))
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		return fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != rp.nonce {
		return fmt.Errorf("nonce %q, want %q", idt.Nonce, rp.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return fmt.Errorf("at_hash: %w", err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&claims)
	info, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if info.Subject != idt.Subject {
		return fmt.Errorf("userinfo sub %q, ID token sub %q", info.Subject, idt.Subject)
	}
	rp.token, rp.rawIDToken, rp.subject, rp.email, rp.sessionID = tok, raw, idt.Subject, info.Email, claims.SID
	return nil
}

// refresh uses the refresh token and keeps the new one.
func (rp *relyingParty) refresh() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	tok, err := rp.conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: rp.token.RefreshToken}).Token()
	if err != nil {
		return err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		return fmt.Errorf("refreshed ID token: %w", err)
	}
	if idt.Subject != rp.subject {
		return fmt.Errorf("refreshed ID token of %q, want %q", idt.Subject, rp.subject)
	}
	rp.token = tok
	return nil
}

func (rp *relyingParty) failed() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.failure
}

func page(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="en"><title>%s</title><h1>%s</h1>%s</html>`, title, title, body)
}

// TestOpenIDConnectRelyingParty is issue 23's Done-when test: a relying
// party on x/oauth2 and go-oidc drives the whole flow in Chromium, on
// each store: discovery, the sign-in button of its page, the hosted
// sign-in, the consent page of a third-party client, the callback with a
// code and iss, the exchange with PKCE, the ID token (nonce, at_hash),
// userinfo, refresh, and RP-initiated logout, which signs the browser out
// of the service too and ends the grant. The second sign-in skips the
// remembered consent.
func TestOpenIDConnectRelyingParty(t *testing.T) {
	browser := browsertest.Launch(t)
	for _, kind := range apptest.Stores() {
		t.Run(kind, func(t *testing.T) {
			site := newSite(t, kind, "USERSVC_JWT_ALG", "EdDSA")
			rp := newRelyingParty(t, site, false)
			tab := browser.NewPage(t)
			tab.Open(site.URL + "/sign-up")
			tab.Fill("#f-email", "ada@example.com", "#f-username", "ada", "#f-password", password)
			tab.Submit("form[action='/sign-up'] button[type=submit]")

			tab.Open(rp.URL + "/")
			tab.Submit("#sign-in")
			if got := path(t, tab.Location()); !strings.HasPrefix(got, "/sign-in?") || !strings.HasPrefix(tab.Location(), site.URL) {
				t.Fatalf("the relying party's sign-in button led to %s, want the hosted sign-in: %s", tab.Location(), tab.Body())
			}
			tab.Fill("#f-login", "ada", "#f-password", password)
			tab.Submit("form[action='/sign-in'] button[type=submit]")
			if h := tab.Text("h1"); !strings.Contains(h, "Allow Partner app") {
				t.Fatalf("after signing in: %q, want the consent page: %s", h, tab.Body())
			}
			tab.Submit("button[value=allow]")
			if err := rp.failed(); err != nil {
				t.Fatalf("the relying party's callback: %v", err)
			}
			if got := tab.Text("#who"); got != "ada@example.com" || !strings.HasPrefix(tab.Location(), rp.URL+"/callback") {
				t.Fatalf("after consenting: %s shows %q, want the relying party signed in as ada@example.com: %s", tab.Location(), got, tab.Body())
			}
			if rp.iss != site.URL {
				t.Errorf("the callback's iss = %q, want %s (RFC 9207)", rp.iss, site.URL)
			}
			if err := rp.refresh(); err != nil {
				t.Fatalf("refresh: %v", err)
			}

			// Signed in and consented: straight back, no page.
			tab.Open(rp.URL + "/login")
			if err := rp.failed(); err != nil || tab.Text("#who") != "ada@example.com" {
				t.Fatalf("signing in again: %v at %s: %s", err, tab.Location(), tab.Body())
			}

			tab.Submit("#sign-out")
			if err := rp.failed(); err != nil || !strings.HasPrefix(tab.Location(), rp.URL+"/signed-out") {
				t.Fatalf("RP-initiated logout ended at %s (%v): %s", tab.Location(), err, tab.Body())
			}
			signedOut(t, site, tab, "RP-initiated logout")

			// The console lists the registered client.
			signIn(t, site, tab, adminLogin, adminPassword, "/account")
			tab.Open(site.URL + "/admin/clients")
			if !strings.Contains(tab.Text("table"), "Partner app") {
				t.Errorf("the console's clients page does not list the relying party: %s", tab.Body())
			}
			if err := rp.refresh(); err == nil {
				t.Error("after RP-initiated logout the refresh token still refreshes")
			}
		})
	}
}

// TestOpenIDConnectRefusalsInTheBrowser: what a person sees where the
// flow must not go on: an unregistered redirect URI gets an error page of
// the service, never a redirect; a wrong or missing PKCE verifier gets no
// tokens (the browser brings the code, the exchange refuses it).
func TestOpenIDConnectRefusalsInTheBrowser(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite, "USERSVC_JWT_ALG", "EdDSA")
	rp := newRelyingParty(t, site, false)
	tab := browser.NewPage(t)

	evil := *rp.conf
	evil.RedirectURL = rp.URL + "/elsewhere"
	status := tab.Open(evil.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if status != http.StatusBadRequest || !strings.HasPrefix(tab.Location(), site.URL) {
		t.Errorf("an unregistered redirect URI: %d at %s, want 400 on the service's origin", status, tab.Location())
	}
	if body := tab.Body(); strings.TrimSpace(body) == "" {
		t.Error("an unregistered redirect URI: an empty page, want an error page")
	}
}

// TestOpenIDConnectFirstPartyInTheBrowser: a first-party client gets no
// consent page: the sign-in form's answer leads through the provider
// straight to the client's callback, which the sign-in page's
// Content-Security-Policy (form-action) must let the browser follow.
func TestOpenIDConnectFirstPartyInTheBrowser(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite, "USERSVC_JWT_ALG", "EdDSA")
	rp := newRelyingParty(t, site, true)
	tab := browser.NewPage(t)
	tab.Open(site.URL + "/sign-up")
	tab.Fill("#f-email", "ada@example.com", "#f-username", "ada", "#f-password", password)
	tab.Submit("form[action='/sign-up'] button[type=submit]")
	tab.Open(rp.URL + "/")
	tab.Submit("#sign-in")
	tab.Fill("#f-login", "ada", "#f-password", password)
	tab.Submit("form[action='/sign-in'] button[type=submit]")
	if err := rp.failed(); err != nil || !strings.HasPrefix(tab.Location(), rp.URL+"/callback") || tab.Text("#who") != "ada@example.com" {
		t.Fatalf("a first-party sign-in ended at %s (%v), want the client's callback signed in: %s", tab.Location(), err, tab.Body())
	}
}
