package user

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Service holds every business rule about users. Build it with NewService.
type Service struct {
	stores   Stores
	users    Users
	sessions Sessions
	tokens   AccountTokens
	audit    AuditLog
	observer Observer // nil: not counted
	// kinds are AuditKinds and Deps.MoreAuditKinds.
	kinds []AuditKind
	// secret keys what the service derives: a refresh token's successor.
	secret []byte

	hasher   Hasher
	access   Tokens
	gate     HashGate   // nil: hashing is unbounded
	guard    LoginGuard // nil: no brute-force protection
	notifier Notifier   // nil: no mail
	jobQueue JobQueue   // nil: no job queue to administer
	mfa      MFA
	records  Records
	// sealer seals TOTP secrets, made on first need; nil: none.
	sealer func() (Sealer, error)
	log    *slog.Logger
	clock  func() time.Time

	policy Policy
	// dummyHash is verified against when a login names no user, so that an
	// unknown account costs the same time as a wrong password.
	dummyHash func() (string, error)
	// jobs runs the background half of password reset requests.
	jobs runner
}

// Deps are the Service's collaborators. Stores, Hasher and Tokens are
// required; every other nil field switches its feature off.
type Deps struct {
	Stores
	Hasher Hasher
	Tokens Tokens
	// Gate bounds concurrent hashing; nil: unbounded.
	Gate HashGate
	// Guard protects logins against guessing; nil: no protection.
	Guard LoginGuard
	// Notifier sends account mail; nil: none is sent.
	Notifier Notifier
	// Log receives what the service cannot report to its caller: a lost
	// audit event, failed account mail, a failed re-hash, a detected reuse
	// of a refresh token. Nil discards it.
	Log *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Secret (at least 32 random bytes, the same on every replica) keys
	// what the service derives: the successor of a refresh token, so that
	// refreshes racing within the grace get the same one. Nil: random per
	// process (tests).
	Secret []byte
	// Observer counts audit events that could not be stored; nil: none.
	Observer Observer
	// Jobs administers the durable job queue; nil: there is none.
	Jobs JobQueue
	// MoreAuditKinds are the kinds of event other packages append to the
	// audit log (the webhooks'): the kind filter accepts them beside
	// AuditKinds.
	MoreAuditKinds []AuditKind
	// MFA is the second-factor setup (mfa.go); the zero value has none.
	MFA MFA
	// Records are what other packages keep about an account, for its
	// export (export.go); the zero value keeps nothing beyond the stores.
	Records Records
}

// Policy is how the service behaves: the rules a deployment may tune. Zero
// lifetimes take the defaults' values; a zero ReuseGrace means no grace.
type Policy struct {
	Password  PasswordPolicy
	Sessions  SessionPolicy   // zero lifetimes: DefaultSessionPolicy's
	Lifecycle LifecyclePolicy // zero lifetimes: DefaultLifecyclePolicy's
	// ReauthWindow is how long after a password login (or a
	// re-authentication) a session may make sensitive changes without the
	// password again; zero: DefaultReauthWindow.
	ReauthWindow time.Duration
	// MaxSessions is the most live sessions an account has: a login ends
	// the oldest beyond it. Zero: DefaultMaxSessions.
	MaxSessions int
	// RequireMFA is whom the service refuses until they use a second
	// factor; "": RequireMFAForNone.
	RequireMFA MFAPolicy
	// MFAChallengeTTL is how long an mfa_token stays usable; zero:
	// DefaultMFAChallengeTTL.
	MFAChallengeTTL time.Duration
}

// DefaultReauthWindow is Policy.ReauthWindow's default.
const DefaultReauthWindow = 10 * time.Minute

// NewService returns the Service over d, following p.
func NewService(d Deps, p Policy) *Service {
	s := &Service{
		stores: d.Stores, users: d.Users, sessions: d.Sessions, tokens: d.AccountTokens, audit: d.Audit,
		observer: d.Observer, secret: d.Secret,
		hasher: d.Hasher, access: d.Tokens, gate: d.Gate, guard: d.Guard, notifier: d.Notifier, jobQueue: d.Jobs,
		log: d.Log, clock: d.Now, policy: p.withDefaults(),
		kinds: append(slices.Clone(AuditKinds), d.MoreAuditKinds...),
		mfa:   d.MFA, records: d.Records,
	}
	if d.MFA.Sealer != nil {
		s.sealer = sync.OnceValues(d.MFA.Sealer)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if len(s.secret) == 0 {
		s.secret = []byte(rand.Text() + rand.Text())
	}
	s.dummyHash = sync.OnceValues(func() (string, error) { return d.Hasher.Hash(rand.Text()) })
	return s
}

// withDefaults fills the zero fields of p's lifetimes with the defaults.
func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.Sessions.RefreshTTL, DefaultSessionPolicy.RefreshTTL)
	def(&p.Sessions.MaxAge, DefaultSessionPolicy.MaxAge)
	def(&p.Lifecycle.VerifyTTL, DefaultLifecyclePolicy.VerifyTTL)
	def(&p.Lifecycle.ResetTTL, DefaultLifecyclePolicy.ResetTTL)
	def(&p.Lifecycle.UndoTTL, DefaultLifecyclePolicy.UndoTTL)
	def(&p.ReauthWindow, DefaultReauthWindow)
	def(&p.MFAChallengeTTL, DefaultMFAChallengeTTL)
	if p.RequireMFA == "" {
		p.RequireMFA = RequireMFAForNone
	}
	if p.MaxSessions <= 0 {
		p.MaxSessions = DefaultMaxSessions
	}
	return p
}

// now is the service's clock, UTC at the precision every store keeps.
func (s *Service) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}

// acquire takes a hashing slot, or returns a no-op release when hashing is
// unbounded.
func (s *Service) acquire(ctx context.Context) (func(), error) {
	if s.gate == nil {
		return func() {}, nil
	}
	return s.gate.Acquire(ctx)
}

// saturated reports whether the gate would turn a caller away at once.
func (s *Service) saturated() bool { return s.gate != nil && s.gate.Saturated() }

// hash hashes password in a hashing slot.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return s.hasher.Hash(password)
}

// Close stops taking background work (RequestPasswordReset then answers
// ErrBusy) and waits for what is running, or for ctx. Call it at shutdown,
// once the HTTP server has stopped.
func (s *Service) Close(ctx context.Context) error {
	s.jobs.close()
	return s.jobs.wait(ctx)
}
