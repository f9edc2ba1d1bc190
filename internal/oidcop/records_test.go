package oidcop_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/oidcop"
)

// appExport is the part of an account's export about the provider's
// relying parties, each item the raw object the client got.
type appExport struct {
	Consents []map[string]any `json:"app_consents"`
	Grants   []map[string]any `json:"app_grants"`
}

// exportOf downloads the export of the account login signs in to (a
// password grant of the API) and returns its apps part and the body.
func (f *fixture) exportOf(login string) (appExport, string) {
	f.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body := f.post("/api/v1/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"password"}, "username": {login}, "password": {password}}.Encode(), http.StatusOK)
	if err := json.Unmarshal(body, &tok); err != nil {
		f.t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, f.base+"/api/v1/users/me/export", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		f.t.Fatalf("export: %d %s", res.StatusCode, raw)
	}
	var x appExport
	if err := json.Unmarshal(raw, &x); err != nil {
		f.t.Fatalf("export %s: %v", raw, err)
	}
	return x, string(raw)
}

// consentTo sends b through the third-party client conf's consent page,
// allows it, and exchanges the code.
func (f *fixture) consentTo(b *browser, conf *oauth2.Config) *oauth2.Token {
	f.t.Helper()
	verifier := oauth2.GenerateVerifier()
	_, _, page := b.visit(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	q := b.consent(hiddenID(f.t, page), "allow")
	tok, err := conf.Exchange(f.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		f.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// TestExportHoldsConsentsAndGrants: the data export (GDPR Art. 15) left
// out what the person allowed relying parties. An account's export now
// lists its consents and grants, with the client's registered name and
// no token or hash, and never another account's.
func TestExportHoldsConsentsAndGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		f.clients.Add(oidcop.Client{
			ID: "notes", Name: "Notes app", AuthMethod: oidcop.AuthNone, RedirectURIs: []string{spaOrigin + "/notes"},
			GrantTypes: []string{oidcop.GrantAuthorizationCode, oidcop.GrantRefreshToken},
		}, "")
		notes := &oauth2.Config{ClientID: "notes", Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/notes",
			Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
		notes.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		adaTok := f.consentTo(f.signIn(), notes)
		f.srv.Clock.Advance(time.Minute)
		f.exchange(f.signIn(), f.webConfig(), "w") // first party: a grant, no consent

		f.post("/api/v1/register", "application/json", `{"email":"bob@example.com","username":"bob","password":"`+password+`"}`, http.StatusCreated)
		f.username = "bob"
		bobTok := f.consentTo(f.signIn(), notes)

		x, body := f.exportOf("ada")
		if len(x.Consents) != 1 {
			t.Fatalf("ada's consents: %v, want the one to notes", x.Consents)
		}
		c := x.Consents[0]
		if got, want := slices.Sorted(maps.Keys(c)), []string{"client_id", "client_name", "scopes", "updated_at"}; !slices.Equal(got, want) {
			t.Errorf("consent fields %v, want %v", got, want)
		}
		if c["client_id"] != "notes" || c["client_name"] != "Notes app" || !slices.Contains(c["scopes"].([]any), "email") {
			t.Errorf("consent: %v, want notes (Notes app) with email", c)
		}
		var clients []any
		for _, g := range x.Grants {
			clients = append(clients, g["client_id"])
			want := []string{"auth_time", "client_id", "client_name", "created_at", "id", "revoked_at", "scopes"}
			if got := slices.Sorted(maps.Keys(g)); !slices.Equal(got, want) {
				t.Errorf("grant fields %v, want %v (no token, no hash)", got, want)
			}
		}
		if !slices.Equal(clients, []any{"notes", webClient}) {
			t.Errorf("ada's grants are to %v, want notes then %s, oldest first", clients, webClient)
		}
		for _, secret := range []string{adaTok.AccessToken, adaTok.RefreshToken, bobTok.AccessToken, bobTok.RefreshToken} {
			if secret != "" && strings.Contains(body, secret) {
				t.Error("a token in the export")
			}
		}

		y, _ := f.exportOf("bob")
		if len(y.Consents) != 1 || len(y.Grants) != 1 || y.Grants[0]["client_id"] != "notes" {
			t.Fatalf("bob's export: consents %v, grants %v; want his one to notes", y.Consents, y.Grants)
		}
		if strings.Contains(body, y.Grants[0]["id"].(string)) {
			t.Error("ada's export holds bob's grant")
		}
	})
}
