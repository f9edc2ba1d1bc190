package oidcop_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// The consents over the API (GET and DELETE /api/v1/users/me/consents):
// what the hosted apps page lists and takes back, for a client of the API.

// apiToken is an access token of the API for login (a password grant).
func (f *fixture) apiToken(login string) string {
	f.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body := f.post("/api/v1/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"password"}, "username": {login}, "password": {password}}.Encode(), http.StatusOK)
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		f.t.Fatalf("password grant for %s: %s (%v)", login, body, err)
	}
	return tok.AccessToken
}

// call sends method path with the bearer token ("" for none) and returns
// the status and the body.
func (f *fixture) call(method, path, token string) (int, []byte) {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(f.ctx, method, f.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// apiConsent is one item of GET /api/v1/users/me/consents.
type apiConsent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

// consentsOf lists the consents of the account of token over the API.
func (f *fixture) consentsOf(token string) []apiConsent {
	f.t.Helper()
	status, body := f.call(http.MethodGet, "/api/v1/users/me/consents", token)
	var list []apiConsent
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || list == nil {
		f.t.Fatalf("GET /users/me/consents: %d %s, want 200 and a list", status, body)
	}
	return list
}

// notesClient registers a named third-party client in f and returns its
// relying party's configuration.
func (f *fixture) notesClient() *oauth2.Config {
	f.clients.Add(oidcop.Client{
		ID: "notes", Name: "Notes app", AuthMethod: oidcop.AuthNone, RedirectURIs: []string{spaOrigin + "/notes"},
		GrantTypes: []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
	}, "")
	notes := &oauth2.Config{ClientID: "notes", Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/notes",
		Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
	notes.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	return notes
}

// TestConsentsListedAndWithdrawnOverTheAPI: only the hosted apps page
// could list or take back an account's consents; a client of the API
// (a mobile app's settings screen) could not. GET /users/me/consents
// lists them, and DELETE /users/me/consents/{client_id} takes one back
// as the page does: the client's refresh token stops working, and the
// withdrawal is in the account's audit log.
func TestConsentsListedAndWithdrawnOverTheAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		notes := f.notesClient()
		before := f.srv.Clock.Now()
		tok := f.consentTo(f.signIn(), notes)
		ada := f.apiToken("ada")

		if status, body := f.call(http.MethodGet, "/api/v1/users/me/consents", ""); status != http.StatusUnauthorized {
			t.Errorf("GET without a token: %d %s, want 401", status, body)
		}
		list := f.consentsOf(ada)
		if len(list) != 1 {
			t.Fatalf("consents %+v, want the one to notes", list)
		}
		c := list[0]
		if c.ClientID != "notes" || c.ClientName != "Notes app" || !slices.Equal(slices.Sorted(slices.Values(c.Scopes)), []string{"email", "offline_access", "openid"}) ||
			c.GrantedAt.Before(before.Add(-time.Second)) {
			t.Errorf("consent %+v, want notes (Notes app) with openid, email, offline_access, granted now", c)
		}

		if status, body := f.call(http.MethodDelete, "/api/v1/users/me/consents/notes", ""); status != http.StatusUnauthorized {
			t.Errorf("DELETE without a token: %d %s, want 401", status, body)
		}
		if status, body := f.call(http.MethodDelete, "/api/v1/users/me/consents/notes", ada); status != http.StatusNoContent {
			t.Fatalf("DELETE /users/me/consents/notes: %d %s, want 204", status, body)
		}
		if list := f.consentsOf(ada); len(list) != 0 {
			t.Errorf("consents after the withdrawal: %+v, want none", list)
		}
		if _, err := notes.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("the client's refresh token still works after the consent was taken back over the API")
		}
		var audit struct {
			Items []struct {
				Kind   string            `json:"kind"`
				Detail map[string]string `json:"detail"`
			} `json:"items"`
		}
		f.getJSON("/api/v1/users/me/audit", ada, &audit)
		if len(audit.Items) == 0 || audit.Items[0].Kind != "app.consent_revoked" || audit.Items[0].Detail["app_client_id"] != "notes" {
			t.Errorf("newest audit events %+v, want app.consent_revoked of notes", audit.Items)
		}

		// Nothing left to take back: 404 with a detail, nothing recorded.
		status, body := f.call(http.MethodDelete, "/api/v1/users/me/consents/notes", ada)
		var p struct {
			Detail string `json:"detail"`
			Code   string `json:"code"`
		}
		if status != http.StatusNotFound || json.Unmarshal(body, &p) != nil || p.Detail == "" || p.Code != "consent_not_found" {
			t.Errorf("DELETE twice: %d %s, want 404 consent_not_found with a detail", status, body)
		}
	})
}

// TestConsentsOfAnotherAccountStayPut: the API names a consent by its
// client only, so a withdrawal by bob of a client ada consented to (and
// he did not) must not reach hers: 404, and her consent and her
// client's refresh token stay.
func TestConsentsOfAnotherAccountStayPut(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		notes := f.notesClient()
		tok := f.consentTo(f.signIn(), notes)
		f.post("/api/v1/register", "application/json", `{"email":"bob@example.com","username":"bob","password":"`+password+`"}`, http.StatusCreated)
		bob := f.apiToken("bob")

		if list := f.consentsOf(bob); len(list) != 0 {
			t.Errorf("bob's consents: %+v, want none (ada's are hers)", list)
		}
		if status, body := f.call(http.MethodDelete, "/api/v1/users/me/consents/notes", bob); status != http.StatusNotFound {
			t.Errorf("bob's DELETE of notes: %d %s, want 404", status, body)
		}
		if list := f.consentsOf(f.apiToken("ada")); len(list) != 1 || list[0].ClientID != "notes" {
			t.Errorf("ada's consents after bob's DELETE: %+v, want hers to notes", list)
		}
		if _, err := notes.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Errorf("ada's refresh token after bob's DELETE: %v, want it to work", err)
		}
	})
}

// TestCodeOfAWithdrawnConsentGivesNothing: a code the user allowed a
// third-party client, taken back before the client exchanged it, still
// gave the client a live grant: the withdrawal ended the client's grants
// and the consent, and the code made a new grant after it. Once the
// consent is gone, its code is refused (invalid_grant).
func TestCodeOfAWithdrawnConsentGivesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		notes := f.notesClient()
		b := f.signIn()
		verifier := oauth2.GenerateVerifier()
		_, _, page := b.visit(notes.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		q := b.consent(hiddenID(t, page), "allow")
		if q.Get("code") == "" {
			t.Fatalf("consent answered %v, want a code", q)
		}
		if status, body := f.call(http.MethodDelete, "/api/v1/users/me/consents/notes", f.apiToken("ada")); status != http.StatusNoContent {
			t.Fatalf("DELETE /users/me/consents/notes: %d %s, want 204", status, body)
		}
		tok, err := notes.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if !isOAuthError(err, "invalid_grant") {
			t.Errorf("the code exchanged after its consent was taken back: %v, want invalid_grant", err)
		}
		if tok != nil {
			if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Error("the access token of a code whose consent was taken back answers userinfo")
			}
		}
	})
}
