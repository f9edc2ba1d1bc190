package user

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ErrBusy is a request turned away because every password-hashing slot is
// taken and the queue for one is full or was waited in too long. The HTTP
// layer answers it 503 with Retry-After.
var ErrBusy = errors.New("the service is busy hashing passwords, try again shortly")

// HashGate bounds how many password hashes and verifications run at once,
// so that a flood of logins cannot take every CPU from cheaper requests.
type HashGate interface {
	// Acquire waits for a hashing slot and returns the function that frees
	// it. It returns an error wrapping ErrBusy when no slot frees up in time.
	Acquire(ctx context.Context) (release func(), err error)
}

// LoginGuard protects accounts against password guessing. Service.Login
// calls it with a key naming the account: the user's id when the login
// names one, the lower-cased login otherwise, so unknown and known
// accounts are treated alike.
type LoginGuard interface {
	// Check returns an error when attempts on key are refused for now (the
	// HTTP layer picks its status); it may also slow the caller down.
	Check(ctx context.Context, key string) error
	// Failed counts a failed attempt on key.
	Failed(ctx context.Context, key string)
	// Succeeded clears key's failures.
	Succeeded(ctx context.Context, key string)
}

// PasswordPolicy is what a new password must satisfy beyond the fixed
// limits of ValidatePassword (NIST SP 800-63B: a minimum length, no
// composition rules, not a known breached password, not the account's own
// name).
type PasswordPolicy struct {
	// MinChars is the fewest characters accepted; below MinPasswordChars
	// counts as MinPasswordChars.
	MinChars int
	// Breached reports whether password is in a list of common breached
	// passwords. Nil means no list.
	Breached func(password string) bool
}

// check refuses password when it is too short, breached, or the same as
// one of identities (email, username), ignoring letter case.
func (p PasswordPolicy) check(field, password string, identities ...string) error {
	if n := max(p.MinChars, MinPasswordChars); utf8.RuneCountInString(password) < n {
		return invalid(field, "must be at least %d characters", n)
	}
	for _, id := range identities {
		if id != "" && strings.EqualFold(password, id) {
			return invalid(field, "must not be the same as your email or username")
		}
	}
	if p.Breached != nil && p.Breached(password) {
		return invalid(field, "is too common: it appears in lists of breached passwords; choose a less predictable one (several unrelated words work well)")
	}
	return nil
}

// Option configures a Service.
type Option func(*Service)

// WithHashGate bounds concurrent hashing through g. Without it hashing is
// unbounded.
func WithHashGate(g HashGate) Option { return func(s *Service) { s.gate = g } }

// WithLoginGuard protects logins with g.
func WithLoginGuard(g LoginGuard) Option { return func(s *Service) { s.guard = g } }

// WithPasswordPolicy applies p to every new password (registration and
// password change).
func WithPasswordPolicy(p PasswordPolicy) Option { return func(s *Service) { s.policy = p } }

// WithRehashErrors hands f the errors of the transparent re-hash on login
// (which never fails the login itself), e.g. to log them.
func WithRehashErrors(f func(ctx context.Context, err error)) Option {
	return func(s *Service) { s.rehashFailed = f }
}

// rehasher is implemented by hashers that can tell a hash made with other
// settings (another algorithm or cost) from one of their own.
type rehasher interface {
	NeedsRehash(hash string) bool
}

// saturated reports whether the gate would turn a caller away at once, so
// that a flood is refused before its database lookups.
func (s *Service) saturated() bool {
	g, ok := s.gate.(interface{ Saturated() bool })
	return ok && g.Saturated()
}

// acquire takes a hashing slot, or returns a no-op release when hashing is
// unbounded.
func (s *Service) acquire(ctx context.Context) (func(), error) {
	if s.gate == nil {
		return func() {}, nil
	}
	return s.gate.Acquire(ctx)
}

// rehashed returns password hashed with the current settings when u's
// hash was made with others, "" otherwise (or when hashing fails, which is
// only reported: the old hash still verifies and the next login tries
// again). It hashes, so the caller holds a hashing slot.
func (s *Service) rehashed(ctx context.Context, u User, password string) string {
	r, ok := s.hasher.(rehasher)
	if !ok || !r.NeedsRehash(u.PasswordHash) {
		return ""
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		s.reportRehash(ctx, err)
		return ""
	}
	return hash
}

// storeRehash replaces u's password hash by hash, a rehash of the same
// password ("" does nothing). Failure leaves the old hash and is only
// reported.
func (s *Service) storeRehash(ctx context.Context, u User, hash string) {
	if hash == "" {
		return
	}
	if err := s.repo.RehashPassword(ctx, u.ID, u.PasswordHash, hash); err != nil {
		s.reportRehash(ctx, err)
	}
}

func (s *Service) reportRehash(ctx context.Context, err error) {
	if s.rehashFailed != nil {
		s.rehashFailed(ctx, err)
	}
}

type sessionKey struct{}

// WithSession returns ctx saying that the caller holds a valid session of
// user id: a login of that account then skips the LoginGuard's check, so an
// attacker who keeps the account locked cannot lock out its owner's
// signed-in devices.
func WithSession(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, sessionKey{}, id)
}

// hasSession reports whether ctx carries a session of u.
func hasSession(ctx context.Context, u User) bool {
	id, ok := ctx.Value(sessionKey{}).(uuid.UUID)
	return ok && id == u.ID
}

// loginKey names the account a login attempt is about, for the LoginGuard.
func loginKey(u User, found bool, login string) string {
	if found {
		return "id:" + u.ID.String()
	}
	return "login:" + strings.ToLower(login)
}
