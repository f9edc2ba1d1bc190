package user

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LifecyclePolicy says how long mailed account tokens live and whether an
// unverified email keeps an account from logging in.
type LifecyclePolicy struct {
	// VerifyTTL is how long an email verification link stays usable.
	VerifyTTL time.Duration
	// ResetTTL is how long a password reset link stays usable.
	ResetTTL time.Duration
	// RequireVerified refuses logins and refreshes of accounts whose email
	// is not verified (ErrEmailNotVerified, only once the password checks
	// out). Off, unverified accounts work like verified ones.
	RequireVerified bool
}

// DefaultLifecyclePolicy is used when WithLifecyclePolicy is not given.
var DefaultLifecyclePolicy = LifecyclePolicy{VerifyTTL: 24 * time.Hour, ResetTTL: time.Hour}

// WithLifecyclePolicy sets the lifetimes of verification and reset tokens
// and whether logging in needs a verified email. A zero TTL keeps the
// default.
func WithLifecyclePolicy(p LifecyclePolicy) Option {
	return func(s *Service) {
		if p.VerifyTTL <= 0 {
			p.VerifyTTL = DefaultLifecyclePolicy.VerifyTTL
		}
		if p.ResetTTL <= 0 {
			p.ResetTTL = DefaultLifecyclePolicy.ResetTTL
		}
		s.lifecycle.policy = &p
	}
}

// WithMailErrors hands f the failures of account mail (making its token,
// handing it to the Notifier, and the lookups of a password reset, which
// run after the request has been answered). They never fail the request
// that caused them; f should log them.
func WithMailErrors(f func(ctx context.Context, err error)) Option {
	return func(s *Service) { s.lifecycle.failed = f }
}

// lifecycle is the Service's state for email verification and password
// reset.
type lifecycle struct {
	policy *LifecyclePolicy // nil: DefaultLifecyclePolicy
	failed func(ctx context.Context, err error)
	jobs   runner
}

func (l *lifecycle) rules() LifecyclePolicy {
	if l.policy == nil {
		return DefaultLifecyclePolicy
	}
	return *l.policy
}

// accountTokenBytes is the randomness of a mailed token: 256 bits.
const accountTokenBytes = 32

// accountTokenLen is the length of a token as mailed (unpadded base64url).
var accountTokenLen = base64.RawURLEncoding.EncodedLen(accountTokenBytes)

// issueAccountToken stores a new token for purpose, sent to u.Email and
// valid for ttl, and returns it.
func (s *Service) issueAccountToken(ctx context.Context, u User, purpose TokenPurpose, ttl time.Duration) (string, error) {
	b := make([]byte, accountTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("account token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	t := AccountToken{
		Hash: hashToken(token), UserID: u.ID, Purpose: purpose, Email: u.Email,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.repo.CreateAccountToken(ctx, t); err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return token, nil
}

// accountTokenHash is what the stores keep of a mailed token; false when
// token cannot be one of ours.
func accountTokenHash(token string) ([]byte, bool) {
	if len(token) != accountTokenLen {
		return nil, false
	}
	return hashToken(token), true
}

// sendVerification mails u a new verification token. actor is who asked.
// Without a Notifier it does nothing.
func (s *Service) sendVerification(ctx context.Context, u User, actor uuid.UUID) error {
	if s.notifier == nil {
		return nil
	}
	ttl := s.lifecycle.rules().VerifyTTL
	token, err := s.issueAccountToken(ctx, u, PurposeVerifyEmail, ttl)
	if err != nil {
		return err
	}
	if err := s.notifier.VerifyEmail(ctx, u, token, ttl); err != nil {
		return fmt.Errorf("send verification mail: %w", err)
	}
	s.record(ctx, AuditVerificationSent, actor, u.ID, nil)
	return nil
}

// mailFailed reports err, if any, through WithMailErrors.
func (s *Service) mailFailed(ctx context.Context, err error) {
	if err != nil && s.lifecycle.failed != nil {
		s.lifecycle.failed(ctx, err)
	}
}

// verifyNewEmail mails a verification link to u's address when it is not
// verified: after a registration or an email change. A failure is only
// reported: the account change has happened, and the user can ask again.
func (s *Service) verifyNewEmail(ctx context.Context, u User) {
	if !u.EmailVerified {
		s.mailFailed(ctx, s.sendVerification(ctx, u, u.ID))
	}
}

// ResendVerification mails u a new verification link; the links sent
// before stay valid until they expire. An email already verified is
// ErrAlreadyVerified.
func (s *Service) ResendVerification(ctx context.Context, u User) error {
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	return s.sendVerification(ctx, u, u.ID)
}

// VerifyEmail uses a verification token: the user's email is verified if
// it is still the address the token was sent to. An unknown, expired or
// used token, or one sent to an address the user no longer has, is
// ErrInvalidToken.
func (s *Service) VerifyEmail(ctx context.Context, token string) (User, error) {
	hash, ok := accountTokenHash(token)
	if !ok {
		return User{}, ErrInvalidToken
	}
	u, err := s.repo.UseVerifyEmailToken(ctx, hash, s.now())
	if errors.Is(err, ErrEmailChanged) {
		return User{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, err
	}
	s.record(ctx, AuditEmailVerified, u.ID, u.ID, nil)
	return u, nil
}

// checkVerified refuses the login of u, whose password checked out, when
// verification is required and u's email is not verified; it then mails a
// new link, since a user who cannot log in cannot ask for one.
func (s *Service) checkVerified(ctx context.Context, u User) error {
	if !s.lifecycle.rules().RequireVerified || u.EmailVerified {
		return nil
	}
	s.mailFailed(ctx, s.sendVerification(ctx, u, u.ID))
	return ErrEmailNotVerified
}

// RequestPasswordReset mails a reset link to the active account whose email
// is email, if there is one. It returns as soon as the address is checked
// for shape, before looking the account up: the answer, and how long it
// takes, are the same whether the account exists or not. The lookup and the
// mail run in the background (see Wait and Close); their failures go to
// WithMailErrors. ErrBusy when too many are already running.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	if err := ValidateEmail(email); err != nil {
		return err
	}
	if !s.lifecycle.jobs.start(ctx, func(ctx context.Context) { s.mailReset(ctx, email) }) {
		return ErrBusy
	}
	return nil
}

// mailReset is the background half of RequestPasswordReset. The audit log
// gets the request either way, naming the account only when it exists:
// never the address of an unknown one, which may be a stranger's
// personal data.
func (s *Service) mailReset(ctx context.Context, email string) {
	u, err := s.repo.ByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		s.record(ctx, AuditResetRequested, uuid.Nil, uuid.Nil, nil)
		return
	}
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("password reset: %w", err))
		return
	}
	s.record(ctx, AuditResetRequested, uuid.Nil, u.ID, nil)
	if !u.IsActive || s.notifier == nil {
		return
	}
	ttl := s.lifecycle.rules().ResetTTL
	token, err := s.issueAccountToken(ctx, u, PurposeResetPassword, ttl)
	if err == nil {
		err = s.notifier.ResetPassword(ctx, u, token, ttl)
	}
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("password reset mail: %w", err))
	}
}

// ResetPassword uses a reset token to set a new password, which must meet
// the policy. In one step it makes every access token issued before
// invalid, uses up every other reset token of the user and revokes all
// their sessions. An unknown, expired or used token, or one of an account
// deactivated since, is ErrInvalidToken.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if err := ValidatePassword("new_password", password); err != nil {
		return err
	}
	hash, ok := accountTokenHash(token)
	if !ok {
		return ErrInvalidToken
	}
	t, err := s.repo.AccountToken(ctx, hash)
	if err != nil {
		return err
	}
	if t.Purpose != PurposeResetPassword || !t.Usable(s.now()) {
		return ErrInvalidToken
	}
	u, err := s.repo.ByID(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && !u.IsActive) {
		return ErrInvalidToken
	}
	if err != nil {
		return err
	}
	if err := s.policy.check("new_password", password, u.Email, u.Username); err != nil {
		return err
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	pwHash, err := s.hasher.Hash(password)
	release()
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	// Checked above, but only this step is atomic: of concurrent uses of
	// one token, one gets here first and the others get ErrInvalidToken.
	if _, err := s.repo.UseResetPasswordToken(ctx, hash, pwHash, s.now()); err != nil {
		return err
	}
	s.record(ctx, AuditResetCompleted, u.ID, u.ID, nil)
	return nil
}

// Wait returns once the background work started so far (password reset
// lookups and mail) has finished, or ctx is done.
func (s *Service) Wait(ctx context.Context) error { return s.lifecycle.jobs.wait(ctx) }

// Close stops taking background work (RequestPasswordReset then answers
// ErrBusy) and waits, like Wait, for what is running. Call it at shutdown,
// once the HTTP server has stopped.
func (s *Service) Close(ctx context.Context) error {
	s.lifecycle.jobs.close()
	return s.lifecycle.jobs.wait(ctx)
}

// maxJobs bounds the background jobs running at once; jobTimeout bounds
// each.
const (
	maxJobs    = 64
	jobTimeout = 30 * time.Second
)

// runner runs a bounded number of jobs in the background. Its zero value
// is ready.
type runner struct {
	mu      sync.Mutex
	closed  bool
	running int
	idle    chan struct{} // closed when running drops to 0; nil while idle
}

// start runs job in a new goroutine with ctx's values but not its
// cancellation (the request it comes from is answered before it ends),
// unless maxJobs are running or the runner is closed. The job sees the
// caller as it is now: a ClientSource is asked here, on the request's
// goroutine, not after the request has ended.
func (r *runner) start(ctx context.Context, job func(context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.running >= maxJobs {
		return false
	}
	if r.running == 0 {
		r.idle = make(chan struct{})
	}
	r.running++
	ctx = WithClient(ctx, clientOf(ctx))
	go func() {
		defer r.done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
		defer cancel()
		job(ctx)
	}()
	return true
}

func (r *runner) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	if r.running == 0 {
		close(r.idle)
		r.idle = nil
	}
}

func (r *runner) wait(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background work: %w", ctx.Err())
	}
}

func (r *runner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}
