// Package oauthclient is the registry of OAuth 2.0 / OpenID Connect
// clients: the applications that obtain tokens from this service. It owns
// the Client entity and its rules (redirect URIs, grants, scopes, secrets),
// the Store port the databases implement, and the Service that manages
// clients, authenticates them at a token endpoint and honours the
// client_credentials tokens of service accounts. It knows no HTTP and no
// SQL; the OpenID provider and the admin API use it.
package oauthclient

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Grant types a client may be allowed (RFC 6749).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token" //nolint:gosec // a grant type's name, no credential
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

// Grants lists every grant type, in the order listings show them.
var Grants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword}

// Scopes a client may be allowed: OpenID Connect's, and the admin API's,
// which only service accounts (the client_credentials grant) carry.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
	ScopeUsersRead     = "users:read"
	ScopeUsersWrite    = "users:write"
	ScopeAuditRead     = "audit:read"
)

// Scopes lists every scope, in the order listings show them.
var Scopes = []string{
	ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess,
	ScopeUsersRead, ScopeUsersWrite, ScopeAuditRead,
}

// AdminScopes are the scopes of the admin API: GET admin users
// (users:read), admin user writes (users:write), GET admin audit
// (audit:read).
var AdminScopes = []string{ScopeUsersRead, ScopeUsersWrite, ScopeAuditRead}

// How a client authenticates at the token endpoint (RFC 7591 section
// 2's token_endpoint_auth_method): a public client does not.
const (
	AuthNone        = "none"
	AuthSecretBasic = "client_secret_basic" //nolint:gosec // a method's name, no credential
	AuthSecretPost  = "client_secret_post"  //nolint:gosec // a method's name, no credential
)

// AuthMethods lists the methods, public first.
var AuthMethods = []string{AuthNone, AuthSecretBasic, AuthSecretPost}

// Client is a registered application.
type Client struct {
	// ID is the client_id: generated, printable ASCII.
	ID   string
	Name string
	// AuthMethod is how it authenticates; AuthNone makes it a public
	// client (a browser or native app that cannot keep a secret).
	AuthMethod string
	// SecretHash is the SHA-256 of a confidential client's secret (which
	// is shown once and never kept); nil for a public client.
	SecretHash []byte
	// RedirectURIs are matched exactly; PostLogoutRedirectURIs likewise
	// for RP-initiated logout.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Grants and Scopes are what it may ask for.
	Grants []string
	Scopes []string
	// FirstParty clients (ours) are not asked for consent.
	FirstParty bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// SecretRotatedAt is when its secret was last replaced, zero if never:
	// its service account's tokens issued before then are refused (they
	// may be a leaked secret's).
	SecretRotatedAt time.Time
	// DeletedAt is when it was deleted, zero while it exists. A deleted
	// client keeps its row (its id is never reused) and nothing it holds
	// works.
	DeletedAt time.Time
}

// Public reports whether c is a public client (no secret).
func (c Client) Public() bool { return c.AuthMethod == AuthNone }

// Allows reports whether c may use grant.
func (c Client) Allows(grant string) bool { return slices.Contains(c.Grants, grant) }

// AllowsScope reports whether c may be granted scope.
func (c Client) AllowsScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// PasswordGrant reports whether c may use the password grant.
func (c Client) PasswordGrant() bool { return c.Allows(GrantPassword) }

// Errors of the registry. Stores return ErrNotFound and ErrExists; the
// Service the rest.
var (
	ErrNotFound = errors.New("oauth client not found")
	ErrExists   = errors.New("an oauth client with this id already exists")
	// ErrInvalidClient is a client that fails authentication at a token
	// endpoint (RFC 6749 section 5.2 invalid_client): unknown, deleted, a
	// wrong or missing secret, or another method than its registered one.
	ErrInvalidClient = errors.New("client authentication failed")
	// ErrWrongMethod is the ErrInvalidClient (errors.Is holds for both)
	// of a confidential client whose secret came by another method than
	// its registered one: refused without a comparison, so no guess (a
	// client library may try one method after the other).
	ErrWrongMethod = fmt.Errorf("%w: the secret came by another method than the client's", ErrInvalidClient)
	// ErrClientLocked refuses a confidential client at an address,
	// whatever secret it sends, after too many wrong ones from there
	// (SecretGuard): until its cool-down ends, so that guessing cannot go
	// on.
	ErrClientLocked = errors.New("too many wrong secrets for this client")
	// ErrUnauthorizedClient is a client not allowed the grant it uses
	// (RFC 6749 section 5.2 unauthorized_client).
	ErrUnauthorizedClient = errors.New("the client is not allowed this grant type")
	// ErrPublicClient refuses a secret rotation for a client without one.
	ErrPublicClient = errors.New("the client is public: it has no secret to rotate")
	// ErrInsufficientScope is a service account's token used where its
	// scopes do not reach (RFC 6750 section 3.1); see ScopeError.
	ErrInsufficientScope = errors.New("the access token's scopes do not allow this request")
	// ErrNotServiceAccount says a token is not a service account's: the
	// caller treats it as a user's token.
	ErrNotServiceAccount = errors.New("not a service account token")
)

// ScopeError is ErrInsufficientScope naming the scope that would do, ""
// when none would.
type ScopeError struct{ Required string }

func (e *ScopeError) Error() string {
	if e.Required == "" {
		return ErrInsufficientScope.Error() + ": a service account's token cannot be used here"
	}
	return ErrInsufficientScope.Error() + ": " + e.Required + " is required"
}

// Unwrap makes a ScopeError an ErrInsufficientScope.
func (e *ScopeError) Unwrap() error { return ErrInsufficientScope }
