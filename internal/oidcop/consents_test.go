package oidcop_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestConsentRevokedOnTheAccountPage: the account's apps page lists the
// third-party client the user consented to, with what it may do; taking
// the consent back there ends the client's refresh token and access
// token at once, and the next authorization asks for consent again.
func TestConsentRevokedOnTheAccountPage(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
		spa.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		verifier := oauth2.GenerateVerifier()
		_, _, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		q := br.consent(hiddenID(t, page), "allow")
		tok, err := spa.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v (refresh token %q)", err, tok.RefreshToken)
		}

		_, status, page := br.visit(f.base + "/account/apps")
		if status != http.StatusOK || !strings.Contains(page, spaClient) || !strings.Contains(page, "See your email address") ||
			!strings.Contains(page, `action="/account/apps/`+spaClient+`/revoke"`) {
			t.Fatalf("apps page: %d, want the client with its scopes and a revoke button\n%s", status, page)
		}
		if status, loc := br.form("/account/apps/"+spaClient+"/revoke", nil); status != http.StatusSeeOther || loc != "/account/apps?notice=app_revoked" {
			t.Fatalf("revoke: %d to %q, want 303 to /account/apps?notice=app_revoked", status, loc)
		}
		if _, _, page := br.visit(f.base + "/account/apps"); strings.Contains(page, `/account/apps/`+spaClient+`/revoke`) {
			t.Errorf("the apps page still lists the revoked client:\n%s", page)
		}
		if _, err := spa.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the client's refresh token still works after the consent was taken back")
		}
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("the client's access token still answers userinfo after the consent was taken back")
		}
		q = f.authorize(br, spa, "s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
		if q.Get("error") != "consent_required" {
			t.Errorf("prompt=none after revoking: %v, want consent_required", q)
		}
		// Revoking again: nothing to take back, said so.
		if status, _ := br.form("/account/apps/"+spaClient+"/revoke", nil); status != http.StatusNotFound {
			t.Errorf("revoking twice: %d, want 404", status)
		}
	})
}

// TestDeletedClientsTokensEndAtOnce: a client deleted from the registry
// holds nothing that works. Its users' access tokens used to read
// userinfo until they expired (up to 30 minutes): only the refresh, which
// authenticates the client, was refused.
func TestDeletedClientsTokensEndAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		tok := f.exchange(f.signIn(), conf, "s")
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo before the deletion: %v", err)
		}
		f.clients.Remove(webClient)
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("a deleted client's access token still reads userinfo")
		}
		if _, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a deleted client's refresh token still refreshes")
		}
	})
}
