package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client authentication methods, as the registry names them.
const (
	AuthNone        = "none"                // a public client: PKCE instead of a secret
	AuthSecretBasic = "client_secret_basic" // HTTP Basic
	AuthSecretPost  = "client_secret_post"  // client_secret in the form
)

// Grant types a client may be allowed.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client is what the provider needs to know of a registered client.
type Client struct {
	ID string
	// Name is what the consent page calls it ("": its id).
	Name string
	// AuthMethod is AuthNone for a public client, else how it presents
	// its secret.
	AuthMethod             string
	RedirectURIs           []string // matched exactly
	PostLogoutRedirectURIs []string // matched exactly
	GrantTypes             []string
	// Scopes are the scopes it may ask for beyond openid, profile, email
	// and offline_access (users:read... for a service account).
	Scopes []string
	// FirstParty clients are ours: no consent page.
	FirstParty bool
}

// Public reports whether c has no secret.
func (c Client) Public() bool { return c.AuthMethod == AuthNone }

// ErrUnknownClient is a client id that is not registered (or deleted), or
// a secret that is not its secret.
var ErrUnknownClient = errors.New("oidc: unknown client or wrong secret")

// ErrWrongMethod is the ErrUnknownClient (errors.Is holds for both) of a
// confidential client whose secret came by another method than its
// registered one (Client.OtherMethod): refused without a comparison.
var ErrWrongMethod = fmt.Errorf("%w: the secret came by another method than the client's", ErrUnknownClient)

// Clients is the client registry as the provider uses it.
type Clients interface {
	// Client returns the client id; ErrUnknownClient when there is none.
	Client(ctx context.Context, id string) (Client, error)
	// Authenticate returns the client id once secret is its secret
	// (compared in constant time), presented by method, its registered
	// AuthMethod (RFC 6749 2.3: the registration binds the method);
	// ErrWrongMethod when it came by another method (Client.OtherMethod),
	// ErrUnknownClient otherwise.
	Authenticate(ctx context.Context, id, secret, method string) (Client, error)
}

// authMethodKey carries, on a request that authenticates a client, how it
// presented the secret: op reads both and does not say which.
type authMethodKey struct{}

// basicForAny is the method noted at introspection, which takes HTTP
// Basic alone (op reads nothing else there, and discovery says so) from
// every confidential client, whichever method it uses at the token
// endpoint.
const basicForAny = "basic-for-any"

// withAuthMethod notes on r how a client secret in it is presented:
// AuthSecretBasic with an Authorization: Basic header (which op prefers
// when there is one), else AuthSecretPost (client_secret in the form);
// basicForAny for Basic at introspection.
func withAuthMethod(r *http.Request) *http.Request {
	method := AuthSecretPost
	if _, _, ok := r.BasicAuth(); ok {
		method = AuthSecretBasic
		if r.URL.Path == IntrospectPath {
			method = basicForAny
		}
	}
	return r.WithContext(context.WithValue(r.Context(), authMethodKey{}, method))
}

// authMethodOf is the method withAuthMethod noted ("": none, which no
// confidential client is registered with).
func authMethodOf(ctx context.Context) string {
	m, _ := ctx.Value(authMethodKey{}).(string)
	return m
}

// FailureNote is what the provider says of a request, for a caller that
// limits the refused requests of each address: whether a refusal of it
// may be a guess. It may not once the request's confidential client
// proved its secret (what is refused after that is its users' doing: a
// code used, expired or made up in the callback's query string, an
// expired refresh token), nor when the request sent a secret of a
// confidential client by another method than its registered one, refused
// without being compared (a stock client library tries one method after
// the other). Put one on the request's context with WithFailureNote
// before the provider answers it.
type FailureNote struct{ noGuess atomic.Bool }

// MayBeGuess reports whether a refusal of the request may be a guess.
func (n *FailureNote) MayBeGuess() bool { return !n.noGuess.Load() }

// failureNoteKey carries a request's *FailureNote.
type failureNoteKey struct{}

// WithFailureNote is ctx with a FailureNote that the provider fills in.
func WithFailureNote(ctx context.Context) (context.Context, *FailureNote) {
	n := &FailureNote{}
	return context.WithValue(ctx, failureNoteKey{}, n), n
}

// noteNoGuess notes, on ctx's FailureNote if any, that the request's
// refusal is no guess.
func noteNoGuess(ctx context.Context) {
	if n, ok := ctx.Value(failureNoteKey{}).(*FailureNote); ok {
		n.noGuess.Store(true)
	}
}

// OtherMethod reports whether secret was sent for c by method, another
// than its registered one: refused, never compared (ErrWrongMethod).
func (c Client) OtherMethod(secret, method string) bool {
	return !c.Public() && secret != "" && method != "" && method != c.AuthMethod
}

// opClient is a Client as op sees it.
type opClient struct {
	c   Client
	ttl time.Duration // ID tokens' lifetime
}

var _ op.Client = opClient{}

func (c opClient) GetID() string                    { return c.c.ID }
func (c opClient) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }

// ApplicationType: a confidential client is a web application; a public
// one a user agent (browser) application, whose redirect URIs op matches
// exactly too (a native one would match loopback URIs on any port).
func (c opClient) ApplicationType() op.ApplicationType {
	if c.c.Public() {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c opClient) AuthMethod() oidc.AuthMethod {
	switch c.c.AuthMethod {
	case AuthSecretBasic:
		return oidc.AuthMethodBasic
	case AuthSecretPost:
		return oidc.AuthMethodPost
	default:
		return oidc.AuthMethodNone
	}
}

func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.c.GrantTypes))
	for _, g := range c.c.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

// LoginURL is where op sends a browser once the request is stored: our
// login handoff, a path of this origin.
func (c opClient) LoginURL(id string) string { return loginPath + "?id=" + url.QueryEscape(id) }

func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c opClient) IDTokenLifetime() time.Duration      { return c.ttl }

// DevMode lets op accept a registered http:// redirect URI of a public
// client when it is a loopback one (a developer's machine); the match
// stays exact.
func (c opClient) DevMode() bool {
	return slices.ContainsFunc(c.c.RedirectURIs, func(s string) bool {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" {
			return false
		}
		ip := net.ParseIP(u.Hostname())
		return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
	})
}

//nolint:revive // op.Client names it so
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) IsScopeAllowed(scope string) bool { return slices.Contains(c.c.Scopes, scope) }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims in the
// ID token too, which most relying parties read them from.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c opClient) ClockSkew() time.Duration             { return 0 }
