package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web"
)

// The OpenID provider's fixed lifetimes: a code, and an authorization
// request waiting for its browser to sign in.
const (
	OIDCCodeTTL    = time.Minute
	OIDCRequestTTL = 10 * time.Minute
)

// oidcStore is a Store that keeps the OpenID provider's state: both
// databases do; a test fake may not, and then there is no provider.
type oidcStore interface {
	OIDC() oidcop.Stores
}

// noBrowser is the browser session while the hosted pages are not wired:
// never signed in, so every authorization goes to /sign-in.
type noBrowser struct{}

func (noBrowser) Current(*http.Request) (user.User, user.Session, bool) {
	return user.User{}, user.Session{}, false
}

// providerClients are the provider's clients: a test's, else the
// registry's; nil without either.
func (a *App) providerClients(o options) oidcop.Clients {
	if o.oidcClients != nil {
		return o.oidcClients
	}
	if a.clients != nil {
		return registryClients{a.clients}
	}
	return nil
}

// registryClients is the client registry as the provider sees it.
type registryClients struct{ svc *oauthclient.Service }

func (r registryClients) Client(ctx context.Context, id string) (oidcop.Client, error) {
	c, err := r.svc.Lookup(ctx, id)
	if errors.Is(err, oauthclient.ErrNotFound) {
		return oidcop.Client{}, oidcop.ErrUnknownClient
	}
	if err != nil {
		return oidcop.Client{}, err
	}
	return providerClient(c), nil
}

// providerClient is c as the provider sees it.
func providerClient(c oauthclient.Client) oidcop.Client {
	return oidcop.Client{
		ID: c.ID, Name: c.Name, AuthMethod: c.AuthMethod, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.Grants, Scopes: c.Scopes, FirstParty: c.FirstParty,
	}
}

// Authenticate checks secret presented by method, the one the request
// used (the provider notes it: op does not say), which the registry
// holds to the client's registered method. A client locked out after
// wrong secrets fails as a wrong secret does here: the API answers its
// 429 before the provider sees the request (httpapi's clientLocked), so
// this is only the one locked out meanwhile.
func (r registryClients) Authenticate(ctx context.Context, id, secret, method string) (oidcop.Client, error) {
	from := user.ClientFrom(ctx).IP // httpapi says who calls the provider's endpoints
	c, err := r.svc.Authenticate(ctx, oauthclient.Credentials{ID: id, Secret: secret, Method: method, From: from})
	if errors.Is(err, oauthclient.ErrWrongMethod) {
		return oidcop.Client{}, oidcop.ErrWrongMethod
	}
	if errors.Is(err, oauthclient.ErrInvalidClient) || errors.Is(err, oauthclient.ErrNotFound) || errors.Is(err, oauthclient.ErrClientLocked) {
		return oidcop.Client{}, oidcop.ErrUnknownClient
	}
	if err != nil {
		return oidcop.Client{}, err
	}
	return providerClient(c), nil
}

// providerPages are the hosted pages as the OpenID provider's Pages:
// its plain data handed to internal/web, which neither package imports
// from the other.
type providerPages struct{ web *web.Pages }

func (p providerPages) Consent(w http.ResponseWriter, r *http.Request, c oidcop.ConsentPage) {
	hidden := make([]web.HiddenField, len(c.Hidden))
	for i, f := range c.Hidden {
		hidden[i] = web.HiddenField{Name: f.Name, Value: f.Value}
	}
	p.web.ConsentPage(w, r, web.Consent{
		Client: c.Client, FirstParty: c.FirstParty, Host: c.Host, User: c.User, Scopes: c.Scopes,
		Action: c.Action, Hidden: hidden, FormTarget: c.FormTarget,
	})
}

func (p providerPages) DeadRequest(w http.ResponseWriter, r *http.Request) {
	p.web.DeadRequestPage(w, r)
}

func (p providerPages) InvalidAuthorization(w http.ResponseWriter, r *http.Request) {
	p.web.InvalidAuthorizationPage(w, r)
}

// openOIDC builds the OpenID provider when the service can be one: a
// public URL to be the issuer at, asymmetric keys to sign ID tokens with
// (the key ring's, the same keys and JWKS as the access tokens), and a
// database that keeps its state. It returns nil (no provider) otherwise.
func (a *App) openOIDC(keys tokenKeys, o options) (*httpapi.OAuth, error) {
	cfg := a.cfg
	st, ok := a.db.(oidcStore)
	if !ok || cfg.PublicURL == "" || cfg.JWTAlg == security.HS256 || a.ring == nil {
		return nil, nil
	}
	codeKey, err := hkdf.Key(sha256.New, keys.derived, nil, "usersvc oidc codes v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the OpenID code key: %w", err)
	}
	var crypto [32]byte
	copy(crypto[:], codeKey)
	clients, browser := a.providerClients(o), o.browser
	if clients == nil {
		return nil, nil // no registry: no client could use the provider
	}
	if browser == nil && a.web != nil {
		browser = a.web
	}
	if browser == nil {
		browser = noBrowser{} // USERSVC_UI=off: sign-in is elsewhere, so only prompt=none answers
	}
	stores := st.OIDC()
	if o.oidcStores != nil {
		stores = o.oidcStores(stores)
	}
	deps := oidcop.Deps{
		Stores: stores, Clients: clients, Browser: browser, Accounts: a.db.Stores().Sessions, Sessions: a.svc, Assurance: a.svc,
		Keys: a.ring, JWKS: keys.jwks, Now: o.now, Logger: a.log,
		Problem: httpapi.WriteError, // a program's refused authorization: the API's JSON problem, by its error table
	}
	if a.web != nil {
		deps.Pages = providerPages{a.web} // the consent and dead-request pages in the hosted pages' layout
	}
	p, err := oidcop.New(oidcop.Config{
		Issuer: cfg.JWTIssuer, Alg: cfg.JWTAlg, Audience: cfg.JWTAudience,
		AccessTokenTTL: cfg.AccessTokenTTL, IDTokenTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL,
		CodeTTL: OIDCCodeTTL, RequestTTL: OIDCRequestTTL, CryptoKey: crypto,
		SignInPath: "/sign-in", LoggedOutURL: cfg.PublicURL + "/", CORSOrigins: cfg.CORSOrigins,
	}, deps)
	if err != nil {
		return nil, err
	}
	return &httpapi.OAuth{Handler: p, Token: http.HandlerFunc(p.Token), Takes: oidcop.Takes,
		Revoke: http.HandlerFunc(p.Revoke), Revokes: oidcop.Revokes}, nil
}

// openIDDiscovery is what the discovery documents say of the provider;
// nil without one.
func openIDDiscovery(oauth *httpapi.OAuth) *httpapi.OpenID {
	if oauth == nil {
		return nil
	}
	return &httpapi.OpenID{
		Authorization: oidcop.AuthorizePath, Userinfo: oidcop.UserinfoPath, Introspection: oidcop.IntrospectPath,
		EndSession: oidcop.EndSessionPath, Scopes: oidcop.Scopes(),
	}
}
