package user

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
)

// Hasher turns passwords into stored hashes and checks them.
type Hasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches hash. It takes the same time
	// for a wrong password as for a right one.
	Verify(hash, password string) bool
}

// Tokens issues and checks access tokens. The token format is its business.
type Tokens interface {
	Issue(c security.Claims) (token string, expiresIn time.Duration, err error)
	// Verify returns what the token asserts, or an error when it is
	// malformed, forged, expired or foreign.
	Verify(token string) (security.Claims, error)
}

// AccessToken is a signed bearer token and how long it stays valid, with
// the refresh token issued beside it and the session both belong to.
type AccessToken struct {
	Token        string
	ExpiresIn    time.Duration
	RefreshToken string
	SessionID    uuid.UUID
}

// Registration is what a new user supplies.
type Registration struct {
	Email    string
	Username string
	Password string
}

// Service holds every business rule about users.
type Service struct {
	repo   Repository
	hasher Hasher
	tokens Tokens
	// dummyHash is verified against when a login names no user, so that an
	// unknown account costs the same time as a wrong password.
	dummyHash func() (string, error)

	gate         HashGate       // nil: hashing is unbounded
	guard        LoginGuard     // nil: no brute-force protection
	policy       PasswordPolicy // the zero value: the fixed limits only
	rehashFailed func(ctx context.Context, err error)
	sessions     SessionPolicy
	clock        func() time.Time
	reused       func(ctx context.Context, s Session)
	audit        AuditLog // nil: no audit log
	auditFailed  func(ctx context.Context, err error)
	notifier     Notifier // nil: no mail

	// lifecycle is email verification and password reset: lifecycle.go.
	lifecycle lifecycle
}

// NewService returns a Service over repo, configured by opts.
func NewService(repo Repository, hasher Hasher, tokens Tokens, opts ...Option) *Service {
	s := &Service{
		repo:   repo,
		hasher: hasher,
		tokens: tokens,
		dummyHash: sync.OnceValues(func() (string, error) {
			return hasher.Hash(rand.Text())
		}),
		sessions: DefaultSessionPolicy,
		clock:    time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register creates an account after checking every field.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	if err := errors.Join(
		ValidateEmail(r.Email),
		ValidateUsername(r.Username),
		ValidatePassword("password", r.Password),
	); err != nil {
		return User{}, firstValidation(err)
	}
	if err := s.policy.check("password", r.Password, r.Email, r.Username); err != nil {
		return User{}, err
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return User{}, err
	}
	hash, err := s.hasher.Hash(r.Password)
	release()
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return User{}, fmt.Errorf("new user id: %w", err)
	}
	u, err := s.repo.Create(ctx, User{ID: id, Email: r.Email, Username: r.Username, PasswordHash: hash})
	if err != nil {
		return User{}, err
	}
	s.record(ctx, AuditRegistered, u.ID, u.ID, nil)
	s.verifyNewEmail(ctx, u) // lifecycle.go
	return u, nil
}

// Login checks a username or email and a password, opens a session (with
// the client of WithClient) and issues its access and refresh tokens.
// Unknown accounts, wrong passwords and inactive accounts all cost one full
// password verification and all give ErrInvalidCredentials.
func (s *Service) Login(ctx context.Context, login, password string) (AccessToken, error) {
	if s.saturated() {
		return AccessToken{}, ErrBusy
	}
	u, err := s.byLogin(ctx, login)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return AccessToken{}, err
	}
	found := err == nil
	key := loginKey(u, found, login)
	if s.guard != nil && (!found || !hasSession(ctx, u)) {
		if gerr := s.guard.Check(ctx, key); gerr != nil {
			return AccessToken{}, gerr
		}
	}
	check, err := s.checkPassword(ctx, u, found, password)
	if err != nil {
		return AccessToken{}, err
	}
	t, err := s.login(ctx, u, found, check)
	if s.guard != nil {
		switch {
		case err == nil:
			s.guard.Succeeded(ctx, key)
		case errors.Is(err, ErrInvalidCredentials):
			s.guard.Failed(ctx, key)
		}
	}
	return t, err
}

// passwordCheck is what a login's hashing found.
type passwordCheck struct {
	ok bool // the password is the account's
	// rehash is the password hashed with the current settings when ok and
	// the stored hash was made with others, "" otherwise.
	rehash string
}

// checkPassword does a login's hashing, and only that, in a hashing slot:
// the slot bounds CPU-bound work, and a login that kept it through its
// database writes would leave a core idle for each round trip. An account
// that was not found costs a verification against the dummy hash, the same
// as a wrong password.
func (s *Service) checkPassword(ctx context.Context, u User, found bool, password string) (passwordCheck, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return passwordCheck{}, err
	}
	defer release()
	if !found {
		dummy, err := s.dummyHash()
		if err != nil {
			return passwordCheck{}, fmt.Errorf("dummy hash: %w", err)
		}
		s.hasher.Verify(dummy, password)
		return passwordCheck{}, nil
	}
	if !s.hasher.Verify(u.PasswordHash, password) {
		return passwordCheck{}, nil
	}
	check := passwordCheck{ok: true}
	// An inactive account's login fails, so its hash is not renewed: the
	// extra hash would also tell its right password from a wrong one by
	// the time the 401 takes.
	if u.IsActive {
		check.rehash = s.rehashed(ctx, u, password)
	}
	return check, nil
}

// login is Login once the account is looked up (found says whether it
// exists) and its password checked, with no hashing slot held.
func (s *Service) login(ctx context.Context, u User, found bool, check passwordCheck) (AccessToken, error) {
	if !found {
		// The login typed is not kept: it is often a password typed in the
		// wrong field.
		s.record(ctx, AuditLoginFailed, uuid.Nil, uuid.Nil, map[string]string{"reason": "unknown_account"})
		return AccessToken{}, ErrInvalidCredentials
	}
	if !check.ok {
		s.record(ctx, AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": "wrong_password"})
		return AccessToken{}, ErrInvalidCredentials
	}
	if !u.IsActive {
		s.record(ctx, AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": "inactive"})
		return AccessToken{}, ErrInvalidCredentials
	}
	if err := s.checkVerified(ctx, u); err != nil { // lifecycle.go
		return AccessToken{}, err
	}
	s.storeRehash(ctx, u, check.rehash)
	t, err := s.startSession(ctx, u)
	if err == nil {
		s.record(ctx, AuditLoginSucceeded, u.ID, u.ID, map[string]string{"session_id": t.SessionID.String()})
	}
	return t, err
}

// byLogin finds a user by email when login looks like one (usernames cannot
// contain '@'), by username otherwise.
func (s *Service) byLogin(ctx context.Context, login string) (User, error) {
	if login == "" || len(login) > MaxEmail {
		return User{}, ErrNotFound
	}
	if strings.Contains(login, "@") {
		return s.repo.ByEmail(ctx, login)
	}
	return s.repo.ByUsername(ctx, login)
}

// Authenticate returns the active user an access token was issued to. A
// token of a deleted or inactive user, one issued before the user's last
// password change, and one whose session is revoked or expired (or that
// names no session) give ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	u, _, err := s.AuthenticateSession(ctx, token)
	return u, err
}

// AuthenticateSession is Authenticate that also returns the token's
// session. It costs one lookup by both primary keys: the user and the
// session together (UserSession).
func (s *Service) AuthenticateSession(ctx context.Context, token string) (User, Session, error) {
	c, err := s.tokens.Verify(token)
	if err != nil || c.SessionID == uuid.Nil {
		return User{}, Session{}, ErrUnauthenticated
	}
	u, sess, err := s.repo.UserSession(ctx, c.UserID, c.SessionID)
	if errors.Is(err, ErrNotFound) {
		return User{}, Session{}, ErrUnauthenticated
	}
	if err != nil {
		return User{}, Session{}, err
	}
	if !u.IsActive || u.TokenVersion != c.Version || !sess.Active(s.now()) {
		return User{}, Session{}, ErrUnauthenticated
	}
	return u, sess, nil
}

// Update changes the profile fields present in p. An empty full name clears
// it; the email must stay valid and unused by anyone else.
func (s *Service) Update(ctx context.Context, id uuid.UUID, p Patch) (User, error) {
	if p.Email != nil {
		if err := ValidateEmail(*p.Email); err != nil {
			return User{}, err
		}
	}
	if p.FullName != nil {
		if err := ValidateFullName(*p.FullName); err != nil {
			return User{}, err
		}
	}
	if p.Email == nil && p.FullName == nil {
		return s.repo.ByID(ctx, id)
	}
	u, err := s.repo.Update(ctx, id, p)
	if err == nil {
		s.record(ctx, AuditProfileUpdated, id, id, map[string]string{"fields": patchedFields(p)})
	}
	if err == nil && p.Email != nil {
		s.verifyNewEmail(ctx, u) // lifecycle.go: a changed email is no longer verified
	}
	return u, err
}

// ChangePassword replaces id's password once current is verified, makes
// every access token issued before the change invalid and revokes every
// session of the user.
func (s *Service) ChangePassword(ctx context.Context, id uuid.UUID, current, next string) error {
	return s.ChangePasswordKeeping(ctx, id, uuid.Nil, current, next)
}

// ChangePasswordKeeping is ChangePassword from session keep, which stays:
// every other session is revoked, and keep's client gets an access token
// of the new token version by refreshing.
func (s *Service) ChangePasswordKeeping(ctx context.Context, id, keep uuid.UUID, current, next string) error {
	if err := ValidatePassword("new_password", next); err != nil {
		return err
	}
	if current == next {
		return invalid("new_password", "must differ from the current password")
	}
	u, err := s.repo.ByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.policy.check("new_password", next, u.Email, u.Username); err != nil {
		return err
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	// The slot is held for the hashing only, not the writes after it.
	ok := s.hasher.Verify(u.PasswordHash, current)
	var hash string
	if ok {
		hash, err = s.hasher.Hash(next)
	}
	release()
	if !ok {
		return ErrWrongPassword
	}
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if err := s.repo.SetPassword(ctx, id, hash); err != nil {
		return err
	}
	s.record(ctx, AuditPasswordChanged, id, id, nil)
	return s.repo.RevokeSessions(ctx, id, keep, s.now())
}

// Delete removes the account for good, with its sessions and refresh
// tokens. The last active administrator cannot (ErrLastAdmin).
func (s *Service) Delete(ctx context.Context, id uuid.UUID) error {
	if err := s.repo.DeleteKeepingAdmin(ctx, id); err != nil {
		return err
	}
	s.record(ctx, AuditDeleted, id, id, nil)
	return nil
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	return s.repo.Ping(ctx)
}

// firstValidation returns the first *ValidationError inside a joined error.
func firstValidation(err error) error {
	var v *ValidationError
	if errors.As(err, &v) {
		return v
	}
	return err
}
