package oauthclient

import (
	"context"
	"errors"
	"slices"

	"github.com/usersvc/usersvc/internal/user"
)

// Credentials are what a request to a token endpoint says about its
// client: its id and, for a confidential client, the secret and where it
// came from (Method: AuthSecretBasic for the Authorization header,
// AuthSecretPost for the body, AuthNone for no secret). From is the
// address the request came from (user.Client.IP), which the guard counts
// wrong secrets by.
type Credentials struct {
	ID     string
	Secret string
	Method string
	From   string
}

// Authenticate checks cr against the registry (RFC 6749 section 2.3): a
// public client must send no secret; a confidential one its secret, by
// its registered method, compared in constant time. Any failure,
// an unknown or deleted client included, is ErrInvalidClient, except a
// confidential client that the guard locked out after too many wrong
// secrets from cr.From: an error wrapping ErrClientLocked, whatever it
// sends. A secret compared with a confidential client's and found wrong
// counts towards the lockout of that client at that address; nothing else
// does: not an unknown client id, refused
// anyway (so made-up ids cost the guard nothing), nor a secret sent by
// another method than the client's, refused without a comparison (a
// client library that tries HTTP Basic first, as golang.org/x/oauth2
// does, must not lock out a client_secret_post client by its successes):
// that refusal is ErrWrongMethod.
func (s *Service) Authenticate(ctx context.Context, cr Credentials) (Client, error) {
	c, err := s.store.Client(ctx, cr.ID)
	if errors.Is(err, ErrNotFound) {
		return Client{}, ErrInvalidClient
	}
	if err != nil {
		return Client{}, err
	}
	if c.Public() {
		if cr.Secret != "" {
			return Client{}, ErrInvalidClient
		}
		return c, nil
	}
	if err := s.Admit(ctx, c.ID, cr.From); err != nil {
		return Client{}, err
	}
	switch { // nothing compared, nothing learnt: no guess
	case cr.Secret == "" || cr.Method == "":
		return Client{}, ErrInvalidClient
	case cr.Method != c.AuthMethod:
		return Client{}, ErrWrongMethod
	}
	if !secretMatches(c, cr.Secret) {
		if s.guard != nil {
			s.guard.Failed(ctx, c.ID, cr.From)
		}
		return Client{}, ErrInvalidClient
	}
	return c, nil
}

// Admit returns the refusal of client id from address from while the
// guard has it locked out there after wrong secrets (an error wrapping
// ErrClientLocked, saying when to come back), nil otherwise:
// Authenticate's first check, for a caller that answers the refusal
// itself before handing the request to one that could only call it
// invalid_client (the OpenID provider).
func (s *Service) Admit(ctx context.Context, id, from string) error {
	if s.guard == nil {
		return nil
	}
	return s.guard.Admit(ctx, id, from)
}

// AuthorizeGrant authenticates cr and checks that its client may use
// grant: ErrNotFound when cr.ID names no client (the caller decides what
// an unregistered client id means), ErrInvalidClient when it fails to
// authenticate, ErrUnauthorizedClient when it is not allowed the grant.
func (s *Service) AuthorizeGrant(ctx context.Context, cr Credentials, grant string) (Client, error) {
	if _, err := s.store.Client(ctx, cr.ID); err != nil {
		return Client{}, err
	}
	c, err := s.Authenticate(ctx, cr)
	if err != nil {
		return Client{}, err
	}
	if !c.Allows(grant) {
		return Client{}, ErrUnauthorizedClient
	}
	return c, nil
}

// ServiceAccount is a client calling with its own client_credentials
// access token.
type ServiceAccount struct {
	ClientID string
	Name     string
	// Scopes are those of its token that the client is still allowed.
	Scopes []string
}

// Has reports whether a may act with scope.
func (a ServiceAccount) Has(scope string) bool { return slices.Contains(a.Scopes, scope) }

// ServiceAccount returns the service account of an access token: one
// signed by this service's keys with claims client_id, sub (the same
// client id) and scope, and no session. ErrNotServiceAccount when token
// is not one (a user's, or not valid at all); user.ErrUnauthenticated
// when its client is deleted or no longer allowed client_credentials, or
// its secret was replaced after the token was issued.
// The registry is read on every call, so that a deletion or a narrowed
// scope takes effect at once.
func (s *Service) ServiceAccount(ctx context.Context, token string) (ServiceAccount, error) {
	if s.tokens == nil {
		return ServiceAccount{}, ErrNotServiceAccount
	}
	claims, err := s.tokens.Verify(token)
	if err != nil || !claims.IsServiceAccount() {
		return ServiceAccount{}, ErrNotServiceAccount
	}
	c, err := s.store.Client(ctx, claims.ClientID)
	if errors.Is(err, ErrNotFound) {
		return ServiceAccount{}, user.ErrUnauthenticated
	}
	if err != nil {
		return ServiceAccount{}, err
	}
	if !c.Allows(GrantClientCredentials) {
		return ServiceAccount{}, user.ErrUnauthenticated
	}
	// A token issued before the secret was replaced may be the leaked
	// secret's: it ends with it. (iat is to the second: one issued in the
	// second of the rotation goes too.)
	if !c.SecretRotatedAt.IsZero() && claims.IssuedAt.Before(c.SecretRotatedAt) {
		return ServiceAccount{}, user.ErrUnauthenticated
	}
	return ServiceAccount{ClientID: c.ID, Name: c.Name, Scopes: intersect(scopesOf(claims.Scope), c.Scopes)}, nil
}
