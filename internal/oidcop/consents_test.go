package oidcop_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
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

// TestConsentWithdrawalIsAuditedAndAnnounced: taking a consent back
// changes the account (an app loses what it held) as removing a passkey
// does, so it is in the account's own audit log, naming the app, and
// followers of the events learn it (app.consent_revoked). It used to
// leave no trace in either.
func TestConsentWithdrawalIsAuditedAndAnnounced(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		f := newFixtureWith(t, kind, []apptest.Option{apptest.With(app.WithEventSink("test", sink))})
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "email"}}
		verifier := oauth2.GenerateVerifier()
		_, _, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if q := br.consent(hiddenID(t, page), "allow"); q.Get("code") == "" {
			t.Fatalf("allow: %v, want a code", q)
		}
		if status, loc := br.form("/account/apps/"+spaClient+"/revoke", nil); status != http.StatusSeeOther {
			t.Fatalf("revoke: %d to %q", status, loc)
		}

		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(f.post("/api/v1/token", "application/x-www-form-urlencoded",
			url.Values{"grant_type": {"password"}, "username": {"ada"}, "password": {password}}.Encode(), http.StatusOK), &tok)
		var me struct {
			ID uuid.UUID `json:"id"`
		}
		f.getJSON("/api/v1/users/me", tok.AccessToken, &me)
		var audit struct {
			Items []struct {
				Kind    string            `json:"kind"`
				ActorID string            `json:"actor_id"`
				Detail  map[string]string `json:"detail"`
			} `json:"items"`
		}
		f.getJSON("/api/v1/users/me/audit", tok.AccessToken, &audit)
		found := false
		for _, e := range audit.Items {
			if e.Kind == "app.consent_revoked" {
				found = true
				if e.Detail["app_client_id"] != spaClient || e.ActorID != me.ID.String() {
					t.Errorf("app.consent_revoked names %v by %s, want the client %s by its owner", e.Detail, e.ActorID, spaClient)
				}
			}
		}
		if !found {
			t.Errorf("no app.consent_revoked in the account's audit log: %+v", audit.Items)
		}

		evs := apptest.EventsAbout(t, sink, map[int64]event.Event{}, me.ID, "app.consent_revoked", 1)
		var d struct {
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal(evs[len(evs)-1].Data, &d); err != nil || d.ClientID != spaClient {
			t.Errorf("app.consent_revoked data %s (%v), want the client %s", evs[len(evs)-1].Data, err, spaClient)
		}
	})
}

// getJSON GETs path with the bearer token and decodes its 200 answer into v.
func (f *fixture) getJSON(path, token string, v any) {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, f.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, v) != nil {
		f.t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
}

// TestConsentWithdrawalThatFailsSaysSo: when the withdrawal cannot be
// stored (its audit event refused, the change undone), the apps page says
// the service is unavailable and the app is still there. It answered 404
// "not found", as for an app never consented to, so the user believed it
// gone while it kept its grants.
func TestConsentWithdrawalThatFailsSaysSo(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "email"}}
		_, _, page := br.visit(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if q := br.consent(hiddenID(t, page), "allow"); q.Get("code") == "" {
			t.Fatalf("allow: %v, want a code", q)
		}
		f.srv.RefuseAudit(t, "app.consent_revoked")(true)
		if status, _ := br.form("/account/apps/"+spaClient+"/revoke", nil); status != http.StatusServiceUnavailable {
			t.Errorf("a withdrawal that could not be stored: %d, want 503", status)
		}
		if _, _, page := br.visit(f.base + "/account/apps"); !strings.Contains(page, `/account/apps/`+spaClient+`/revoke`) {
			t.Error("the app is gone from the apps page after a withdrawal that was not made")
		}
	})
}
