package user

import (
	"context"
	"errors"
	"fmt"
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
	// UndoTTL is how long the link that undoes an email change, mailed to
	// the previous address, stays usable.
	UndoTTL time.Duration
	// RequireVerified refuses logins and refreshes of accounts whose email
	// is not verified (ErrEmailNotVerified, only once the password checks
	// out). Off, unverified accounts work like verified ones.
	RequireVerified bool
}

// DefaultLifecyclePolicy is the policy's zero fields' values.
var DefaultLifecyclePolicy = LifecyclePolicy{VerifyTTL: 24 * time.Hour, ResetTTL: time.Hour, UndoTTL: 7 * 24 * time.Hour}

// TokenPurpose says what a one-time account token is for.
type TokenPurpose string

// The purposes of account tokens.
const (
	PurposeVerifyEmail   TokenPurpose = "verify_email"
	PurposeResetPassword TokenPurpose = "reset_password"
)

// AccountToken is a stored one-time token mailed to a user: only its
// SHA-256 hash is kept. It is usable once, before ExpiresAt.
type AccountToken struct {
	Hash    []byte // SHA-256 of the token
	UserID  uuid.UUID
	Purpose TokenPurpose
	// Email is the address the token was sent to. A verification token
	// verifies only while it is still the user's address.
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
	// TokenVersion is the user's token version when a reset token was
	// made: once the password changes the token no longer resets it.
	// Stores keep it as given; a token stored by a release that did not
	// bind tokens reads as Unbound.
	TokenVersion int64
}

// Unbound is the TokenVersion of a token not bound to a password (made
// by an earlier release).
const Unbound = -1

// EmailChange is a change of an account's email that the previous
// address may undo, with the link mailed there.
type EmailChange struct {
	Hash      []byte // SHA-256 of the undo link's token
	UserID    uuid.UUID
	OldEmail  string // where the undo link went, and what undoing restores
	NewEmail  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Usable reports whether t is unused and unexpired at now.
func (t AccountToken) Usable(now time.Time) bool {
	return t.UsedAt.IsZero() && now.Before(t.ExpiresAt)
}

// issueAccountToken stores a new token of u for purpose, to be sent to
// to and valid for ttl, and returns it. A reset token is bound to u's
// current password (its token version).
func (s *Service) issueAccountToken(ctx context.Context, tx Stores, u User, purpose TokenPurpose, to string, ttl time.Duration) (string, error) {
	token, hash, err := newSecret()
	if err != nil {
		return "", err
	}
	now := s.now()
	t := AccountToken{Hash: hash, UserID: u.ID, Purpose: purpose, Email: to, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if purpose == PurposeResetPassword {
		t.TokenVersion = u.TokenVersion
	}
	if err := tx.AccountTokens.Create(ctx, t); err != nil {
		return "", fmt.Errorf("store %s token: %w", purpose, err)
	}
	return token, nil
}

// sendVerification mails u a new verification token. actor is who asked.
// Without a Notifier it does nothing.
func (s *Service) sendVerification(ctx context.Context, u User, actor uuid.UUID) error {
	mailed := false
	err := s.atomic(ctx, func(tx Stores) error {
		var err error
		mailed, err = s.queueVerification(ctx, tx, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("send verification mail: %w", err)
	}
	if mailed {
		s.record(ctx, AuditVerificationSent, actor, u.ID, nil)
	}
	return nil
}

// queueVerification issues, in tx, a verification token for u's email
// when it is not verified, and queues its mail; it reports whether it
// did (not without mail, or for a verified email).
func (s *Service) queueVerification(ctx context.Context, tx Stores, u User) (bool, error) {
	if !s.mails() || u.EmailVerified {
		return false, nil
	}
	ttl := s.policy.Lifecycle.VerifyTTL
	token, err := s.issueAccountToken(ctx, tx, u, PurposeVerifyEmail, u.Email, ttl)
	if err != nil {
		return false, err
	}
	return true, s.queueMail(ctx, tx, Mail{Kind: MailVerifyEmail, To: u.Email, UserID: u.ID, Token: token, TTL: ttl})
}

// mailFailed logs err, if any: account mail never fails the request that
// caused it (the account change has happened, and the user can ask again).
func (s *Service) mailFailed(ctx context.Context, err error) {
	if err != nil {
		s.log.ErrorContext(ctx, "account mail failed", "error", err.Error())
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
	hash, ok := secretHash(token)
	if !ok {
		return User{}, ErrInvalidToken
	}
	var u User
	err := s.atomic(ctx, func(tx Stores) error {
		var err error
		if u, err = tx.AccountTokens.UseVerifyEmail(ctx, hash, s.now()); err != nil {
			return err
		}
		return s.recordIn(ctx, tx, s.event(ctx, AuditEmailVerified, u.ID, u.ID, nil))
	})
	if errors.Is(err, ErrEmailChanged) {
		return User{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// checkVerified refuses the login of u, whose password checked out, when
// verification is required and u's email is not verified; it then mails a
// new link, since a user who cannot log in cannot ask for one.
func (s *Service) checkVerified(ctx context.Context, u User) error {
	if !s.policy.Lifecycle.RequireVerified || u.EmailVerified {
		return nil
	}
	s.mailFailed(ctx, s.sendVerification(ctx, u, u.ID))
	return ErrEmailNotVerified
}
