package oauthclient

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// The audit events of client administration, recorded in the service's
// audit log. Their detail names the client ("oauth_client") and never its
// secret.
const (
	AuditCreated       user.AuditKind = "oauth_client.created"
	AuditUpdated       user.AuditKind = "oauth_client.updated"
	AuditDeleted       user.AuditKind = "oauth_client.deleted"
	AuditSecretRotated user.AuditKind = "oauth_client.secret_rotated" //nolint:gosec // an audit kind, no credential
)

// AuditKinds lists the audit events of this package.
var AuditKinds = []user.AuditKind{AuditCreated, AuditUpdated, AuditDeleted, AuditSecretRotated}

// Verifier verifies access tokens; *security.JWT is one.
type Verifier interface {
	Verify(token string) (security.Claims, error)
}

// SecretGuard is the brute-force protection of confidential clients'
// secrets (ratelimit.ClientGuard): it counts the wrong secrets presented
// for each client id from each address (from: the caller's address as
// user.Client.IP has it) and refuses a client that had too many from
// that address there, so that whoever knows a client id cannot lock its
// relying party out from elsewhere.
type SecretGuard interface {
	// Admit returns nil when client id may authenticate from address
	// from now, else an error wrapping ErrClientLocked (ratelimit's
	// ExceededError says when to come back).
	Admit(ctx context.Context, id, from string) error
	// Failed counts a wrong secret presented for client id from address
	// from.
	Failed(ctx context.Context, id, from string)
}

// Deps are a Service's collaborators.
type Deps struct {
	Store Store
	Audit user.AuditLog // nil records nothing
	// Tx puts each administrator's change and its audit event in one
	// transaction; nil (a store without transactions), the event is
	// appended after the change.
	Tx Transactor
	// Tokens verifies service accounts' tokens; nil honours none.
	Tokens Verifier
	// Guard counts wrong secrets and locks clients out; nil guards
	// nothing (rate limits off, the CLI).
	Guard SecretGuard
	Log   *slog.Logger
	Now   func() time.Time // nil: time.Now
}

// Service manages the registry and authenticates clients.
type Service struct {
	store  Store
	audit  user.AuditLog
	tx     Transactor
	tokens Verifier
	guard  SecretGuard
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns a Service over d.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: d.Store, audit: d.Audit, tx: d.Tx, tokens: d.Tokens, guard: d.Guard, log: d.Log, now: d.Now}
}

// Operator is the actor of the usersvc CLI: an administrator with no
// account, recorded as uuid.Nil.
func Operator() user.User { return user.User{Role: user.RoleAdmin, IsActive: true} }

func requireAdmin(actor user.User) error {
	if !actor.IsAdmin() || !actor.IsActive {
		return user.ErrForbidden
	}
	return nil
}

// NewClient is what registering a client takes.
type NewClient struct {
	Name string
	// Confidential clients get a secret; AuthMethod is then
	// client_secret_basic unless it says client_secret_post.
	Confidential bool
	AuthMethod   string
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string
	// Grants nil means the defaults (DefaultGrants); Scopes nil likewise
	// (DefaultScopes).
	Grants     []string
	Scopes     []string
	FirstParty bool
}

// DefaultGrants are the grants of a client registered without naming
// any: the authorization code flow (with refresh) when it has redirect
// URIs, plus the password grant for a first-party client; without
// redirect URIs, the password grant (with refresh) for a first-party
// client, else client_credentials for a confidential one (a service
// account). A third-party client is never given the password grant
// unless asked for explicitly.
func DefaultGrants(n NewClient) []string {
	switch {
	case len(n.RedirectURIs) > 0 && n.FirstParty:
		return []string{GrantAuthorizationCode, GrantRefreshToken, GrantPassword}
	case len(n.RedirectURIs) > 0:
		return []string{GrantAuthorizationCode, GrantRefreshToken}
	case n.FirstParty:
		return []string{GrantPassword, GrantRefreshToken}
	case n.Confidential:
		return []string{GrantClientCredentials}
	}
	return []string{GrantAuthorizationCode, GrantRefreshToken} // refused: no redirect URI
}

// DefaultScopes are the scopes of a client registered without naming
// any: the OpenID Connect ones for a client that signs users in, none for
// a service account (whose admin scopes are granted one by one).
func DefaultScopes(grants []string) []string {
	if len(grants) == 1 && grants[0] == GrantClientCredentials {
		return []string{}
	}
	return []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}
}

// Create registers a client for the administrator actor and returns it
// with its secret, "" for a public client: the only time the secret is
// shown.
func (s *Service) Create(ctx context.Context, actor user.User, n NewClient) (Client, string, error) {
	if err := requireAdmin(actor); err != nil {
		return Client{}, "", err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c := Client{
		ID: newID(), Name: n.Name, AuthMethod: AuthNone, RedirectURIs: orEmpty(n.RedirectURIs),
		PostLogoutRedirectURIs: orEmpty(n.PostLogoutRedirectURIs), Grants: n.Grants, Scopes: n.Scopes,
		FirstParty: n.FirstParty, CreatedAt: now, UpdatedAt: now,
	}
	if n.Confidential {
		c.AuthMethod = AuthSecretBasic
		if n.AuthMethod != "" {
			c.AuthMethod = n.AuthMethod
		}
	} else if n.AuthMethod != "" && n.AuthMethod != AuthNone {
		return Client{}, "", invalid("token_endpoint_auth_method", CodePublicAuthMethod)
	}
	if c.Grants == nil {
		c.Grants = DefaultGrants(n)
	}
	if c.Scopes == nil {
		c.Scopes = DefaultScopes(c.Grants)
	}
	dedupe(&c)
	if err := validate(c); err != nil {
		return Client{}, "", err
	}
	var secret string
	if !c.Public() {
		secret, c.SecretHash = newSecret()
	}
	detail := map[string]string{"grants": strings.Join(c.Grants, " "), "scopes": strings.Join(c.Scopes, " ")}
	if err := s.change(ctx, AuditCreated, actor, c, detail, func(st Store) error { return st.Create(ctx, c) }); err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// List returns the clients, oldest first, for the administrator actor.
func (s *Service) List(ctx context.Context, actor user.User) ([]Client, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	return s.store.List(ctx)
}

// Get returns the client id for the administrator actor.
func (s *Service) Get(ctx context.Context, actor user.User, id string) (Client, error) {
	if err := requireAdmin(actor); err != nil {
		return Client{}, err
	}
	return s.store.Client(ctx, id)
}

// Lookup returns the client id, ErrNotFound when it is unknown or
// deleted: for the OpenID provider, which checks redirect URIs, grants
// and scopes against it.
func (s *Service) Lookup(ctx context.Context, id string) (Client, error) {
	return s.store.Client(ctx, id)
}

// Patch changes a client: nil fields are kept.
type Patch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	Grants                 *[]string
	Scopes                 *[]string
	FirstParty             *bool
}

// Update changes the client id for the administrator actor. Narrowing
// its grants or scopes takes effect on its tokens at once (service
// accounts are checked against the registry on every request).
func (s *Service) Update(ctx context.Context, actor user.User, id string, p Patch) (Client, error) {
	if err := requireAdmin(actor); err != nil {
		return Client{}, err
	}
	c, err := s.store.Client(ctx, id)
	if err != nil {
		return Client{}, err
	}
	var fields []string
	set := func(name string, apply func()) {
		fields = append(fields, name)
		apply()
	}
	if p.Name != nil {
		set("name", func() { c.Name = *p.Name })
	}
	if p.RedirectURIs != nil {
		set("redirect_uris", func() { c.RedirectURIs = orEmpty(*p.RedirectURIs) })
	}
	if p.PostLogoutRedirectURIs != nil {
		set("post_logout_redirect_uris", func() { c.PostLogoutRedirectURIs = orEmpty(*p.PostLogoutRedirectURIs) })
	}
	if p.Grants != nil {
		set("grant_types", func() { c.Grants = orEmpty(*p.Grants) })
	}
	if p.Scopes != nil {
		set("scopes", func() { c.Scopes = orEmpty(*p.Scopes) })
	}
	if p.FirstParty != nil {
		set("first_party", func() { c.FirstParty = *p.FirstParty })
	}
	if len(fields) == 0 {
		return c, nil
	}
	dedupe(&c)
	if err := validate(c); err != nil {
		return Client{}, err
	}
	c.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	detail := map[string]string{"fields": strings.Join(fields, ",")}
	if err := s.change(ctx, AuditUpdated, actor, c, detail, func(st Store) error { return st.Save(ctx, c) }); err != nil {
		return Client{}, err
	}
	return c, nil
}

// Delete deletes the client id for the administrator actor: from now on
// it authenticates nowhere and its service-account tokens are refused.
func (s *Service) Delete(ctx context.Context, actor user.User, id string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	c, err := s.store.Client(ctx, id)
	if err != nil {
		return err
	}
	at := s.now().UTC().Truncate(time.Microsecond)
	return s.change(ctx, AuditDeleted, actor, c, nil, func(st Store) error { return st.Delete(ctx, id, at) })
}

// RotateSecret gives the confidential client id a new secret, returned
// (and shown) once; the previous one stops working at once.
func (s *Service) RotateSecret(ctx context.Context, actor user.User, id string) (Client, string, error) {
	if err := requireAdmin(actor); err != nil {
		return Client{}, "", err
	}
	c, err := s.store.Client(ctx, id)
	if err != nil {
		return Client{}, "", err
	}
	if c.Public() {
		return Client{}, "", ErrPublicClient
	}
	secret, hash := newSecret()
	c.SecretHash, c.UpdatedAt = hash, s.now().UTC().Truncate(time.Microsecond)
	c.SecretRotatedAt = c.UpdatedAt
	if err := s.change(ctx, AuditSecretRotated, actor, c, nil, func(st Store) error { return st.Save(ctx, c) }); err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

// change makes an administrator's change of client c through write and
// records its audit event of kind by actor, in one transaction when the
// store has them: when the database refuses the event, the change is not
// made either. Without a Transactor the event is appended after the
// change, and one that cannot be stored is logged.
func (s *Service) change(ctx context.Context, kind user.AuditKind, actor user.User, c Client, detail map[string]string, write func(Store) error) error {
	if s.tx == nil || s.audit == nil {
		if err := write(s.store); err != nil {
			return err
		}
		s.record(ctx, kind, actor, c, detail)
		return nil
	}
	ev := s.auditEvent(ctx, kind, actor, c, detail)
	return s.tx.Atomic(ctx, func(st Store, audit user.AuditLog) error {
		if err := write(st); err != nil {
			return err
		}
		if err := audit.Append(ctx, ev); err != nil {
			return fmt.Errorf("record %s: %w", kind, err)
		}
		return nil
	})
}

// record appends an audit event of kind by actor about client c, after
// the fact; one that cannot be stored is logged.
func (s *Service) record(ctx context.Context, kind user.AuditKind, actor user.User, c Client, detail map[string]string) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Append(ctx, s.auditEvent(ctx, kind, actor, c, detail)); err != nil {
		s.log.ErrorContext(ctx, "audit event lost: could not append it", "kind", string(kind), "error", err.Error())
	}
}

// auditEvent is the audit event of kind by actor about client c.
func (s *Service) auditEvent(ctx context.Context, kind user.AuditKind, actor user.User, c Client, detail map[string]string) user.AuditEvent {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["oauth_client"] = c.ID
	detail["name"] = c.Name
	cl := user.ClientFrom(ctx)
	if cl.ClientID != "" {
		detail["client_id"] = cl.ClientID
	}
	return user.AuditEvent{
		At: s.now(), Kind: kind, ActorID: actor.ID, IP: cl.IP, UserAgent: cl.UserAgent, RequestID: cl.RequestID,
		Detail: detail,
	}
}

// scopesOf splits a scope parameter or claim.
func scopesOf(scope string) []string { return strings.Fields(scope) }

// intersect is the scopes of want that allowed has, in want's order.
func intersect(want, allowed []string) []string {
	out := []string{}
	for _, s := range want {
		if slices.Contains(allowed, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
