package oidcop_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
)

// registryClient registers n in the service's client registry (as an
// administrator does) and returns the relying party's configuration of
// it, with the secret of a confidential one.
func (f *fixture) registryClient(n oauthclient.NewClient) *oauth2.Config {
	f.t.Helper()
	admin := user.User{ID: uuid.New(), Role: user.RoleAdmin, IsActive: true}
	c, secret, err := f.srv.App.Clients().Create(f.t.Context(), admin, n)
	if err != nil {
		f.t.Fatalf("register %s: %v", n.Name, err)
	}
	conf := &oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: f.provider.Endpoint(), RedirectURL: n.RedirectURIs[0],
		Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return conf
}

// revokeAtDiscovery posts token (with hint) to the revocation_endpoint
// the discovery document names, as a stock relying party does (RFC 7009
// section 2.1): a confidential client with HTTP Basic, a public one with
// its client_id; it returns the status.
func (f *fixture) revokeAtDiscovery(conf *oauth2.Config, token, hint string) int {
	f.t.Helper()
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := f.provider.Claims(&meta); err != nil || meta.Revocation == "" {
		f.t.Fatalf("discovery names no revocation_endpoint: %v", err)
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if conf.ClientSecret == "" {
		form.Set("client_id", conf.ClientID)
	}
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, meta.Revocation, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if conf.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
	}
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDiscoveredRevocationEndpointRevokesProviderTokens: the discovery
// documents name /api/v1/revoke as the revocation_endpoint, the one a
// relying party revokes its tokens at when its user signs out. It knew
// only the service's own tokens: the provider's refresh and access tokens
// sent there by their own client were answered 200, as RFC 7009 answers
// a token it does not know, and went on working (a refresh token for as
// long as its grant, stolen or not). A token the relying party revokes
// there now stops: the refresh token refreshes no more, the access token
// reads userinfo no more; for a confidential client and a public one.
// Another client presenting the token still changes nothing.
func TestDiscoveredRevocationEndpointRevokesProviderTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := startFixture(t, kind, nil)
		web := f.registryClient(oauthclient.NewClient{Name: "Web app", Confidential: true, FirstParty: true,
			RedirectURIs: []string{rpOrigin + "/cb"}})
		spa := f.registryClient(oauthclient.NewClient{Name: "SPA", FirstParty: true, RedirectURIs: []string{spaOrigin + "/cb"}})
		br := f.signIn()

		tok := f.exchange(br, web, "s")
		if status := f.revokeAtDiscovery(spa, tok.RefreshToken, "refresh_token"); status != http.StatusOK && status != http.StatusUnauthorized {
			t.Errorf("another client revoking the web app's refresh token: %d, want 200 (not its token) or 401", status)
		}
		next, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("after another client presented it: %v, want the token refreshing", err)
		}
		if status := f.revokeAtDiscovery(web, next.RefreshToken, "refresh_token"); status != http.StatusOK {
			t.Fatalf("the web app revoking its refresh token: %d, want 200", status)
		}
		if _, err := web.TokenSource(f.ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token its client revoked at the discovered revocation_endpoint still refreshes")
		}

		tok = f.exchange(br, web, "s2")
		if status := f.revokeAtDiscovery(web, tok.AccessToken, "access_token"); status != http.StatusOK {
			t.Fatalf("the web app revoking its access token: %d, want 200", status)
		}
		if _, err := f.provider.UserInfo(f.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("an access token its client revoked at the discovered revocation_endpoint still reads userinfo")
		}

		tok = f.exchange(br, spa, "s3")
		if status := f.revokeAtDiscovery(spa, tok.RefreshToken, "refresh_token"); status != http.StatusOK {
			t.Fatalf("the public client revoking its refresh token: %d, want 200", status)
		}
		if _, err := spa.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a public client's refresh token it revoked at the discovered revocation_endpoint still refreshes")
		}
	})
}

// TestServiceRefreshTokenBeginningLikeTheProvidersStaysTheService: the
// service's own refresh tokens are 43 random base64url characters, so one
// in 64^4 begins with the provider's prefix (ort_, whose underscore is a
// base64url character). Routed by the prefix alone, such a token went to
// the provider: its refresh was refused, and its revocation at
// /api/v1/revoke (a client signing its user out) was answered by the
// provider, which knows no such token, and the session lived on. The
// provider's refresh tokens are the prefix and 43 characters: a token of
// another length is the service's.
func TestServiceRefreshTokenBeginningLikeTheProvidersStaysTheService(t *testing.T) {
	lookalike := oidcop.RefreshPrefix + strings.Repeat("A", 43-len(oidcop.RefreshPrefix))
	if oidcop.Takes(oidcop.GrantRefreshToken, lookalike) {
		t.Error("Takes: a 43-character token is the provider's, want the service's")
	}
	if oidcop.Revokes(lookalike) {
		t.Error("Revokes: a 43-character token is the provider's, want the service's")
	}
	issued := oidcop.RefreshPrefix + strings.Repeat("A", 43)
	if !oidcop.Takes(oidcop.GrantRefreshToken, issued) || !oidcop.Revokes(issued) {
		t.Error("a token of the provider's form is not the provider's")
	}
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		// The service answers any well-formed revocation 200 (RFC 7009);
		// the provider refused it, for want of a client.
		f.post("/api/v1/revoke", "application/x-www-form-urlencoded", url.Values{"token": {lookalike}}.Encode(), http.StatusOK)
	})
}
