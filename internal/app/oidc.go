package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
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

// noClients is the client registry while none is wired: no client.
type noClients struct{}

func (noClients) Client(_ context.Context, _ string) (oidcop.Client, error) {
	return oidcop.Client{}, oidcop.ErrUnknownClient
}
func (noClients) Authenticate(_ context.Context, _, _ string) (oidcop.Client, error) {
	return oidcop.Client{}, oidcop.ErrUnknownClient
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
	clients, browser := o.oidcClients, o.browser
	if clients == nil {
		clients = noClients{}
	}
	if browser == nil {
		browser = noBrowser{}
	}
	p, err := oidcop.New(oidcop.Config{
		Issuer: cfg.JWTIssuer, Alg: cfg.JWTAlg, Audience: cfg.JWTAudience,
		AccessTokenTTL: cfg.AccessTokenTTL, IDTokenTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL,
		CodeTTL: OIDCCodeTTL, RequestTTL: OIDCRequestTTL, CryptoKey: crypto,
		SignInPath: "/sign-in", LoggedOutURL: cfg.PublicURL + "/", CORSOrigins: cfg.CORSOrigins,
	}, oidcop.Deps{
		Stores: st.OIDC(), Clients: clients, Browser: browser, Accounts: a.db.Stores().Sessions, Sessions: a.svc,
		Keys: a.ring, JWKS: keys.jwks, Now: o.now, Logger: a.log,
	})
	if err != nil {
		return nil, err
	}
	return &httpapi.OAuth{Handler: p, Token: http.HandlerFunc(p.Token), Takes: oidcop.Takes}, nil
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
