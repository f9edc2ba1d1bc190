package oidcop_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestNarrowedRefreshGivesANarrowToken: a refresh asking for fewer scopes
// than the grant's (RFC 6749 section 6) gets an access token of those
// scopes only, as its answer and its own scope claim say. Introspection
// reported the grant's every scope for it, and userinfo answered it with
// the email and profile claims it was not given (OpenID Connect Core
// 5.4), so that a token a client narrowed before handing it on carried
// all the grant's access at the provider.
func TestNarrowedRefreshGivesANarrowToken(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		conf := f.webConfig()
		tok := f.exchange(f.signIn(), conf, "s")
		a := f.tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {oidc.ScopeOpenID}},
			func(r *http.Request) { r.SetBasicAuth(webClient, webSecret) })
		var narrow struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		if err := json.Unmarshal(a.body, &narrow); a.status != http.StatusOK || err != nil || narrow.AccessToken == "" {
			t.Fatalf("refresh with scope openid: %d %s", a.status, a.body)
		}
		if narrow.Scope != oidc.ScopeOpenID {
			t.Fatalf("refresh with scope openid answered scope %q", narrow.Scope)
		}
		if got := f.introspect(webClient, webSecret, narrow.AccessToken); got["active"] != true || got["scope"] != oidc.ScopeOpenID ||
			got["email"] != nil || got["preferred_username"] != nil {
			t.Errorf("introspection of the narrowed token = %v, want active with scope openid and no email or username", got)
		}
		info, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: narrow.AccessToken}))
		if err != nil {
			t.Fatalf("userinfo of the narrowed token: %v", err)
		}
		var claims map[string]any
		if err := info.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		for claim := range claims {
			if strings.HasPrefix(claim, "email") || claim == "preferred_username" || claim == "name" {
				t.Errorf("userinfo of a token narrowed to openid has %s: %v", claim, claims)
			}
		}
		// The grant keeps its scopes: a refresh asking for none gets them all.
		full, err := conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: jsonField(t, a.body, "refresh_token")}).Token()
		if err != nil {
			t.Fatalf("refresh after the narrowed one: %v", err)
		}
		if got := f.introspect(webClient, webSecret, full.AccessToken); got["email"] != "ada@example.com" {
			t.Errorf("introspection after a refresh asking for every scope = %v, want the email", got)
		}
	})
}

func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}
