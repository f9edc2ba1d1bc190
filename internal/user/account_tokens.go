package user

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

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
}

// Usable reports whether t is unused and unexpired at now.
func (t AccountToken) Usable(now time.Time) bool {
	return t.UsedAt.IsZero() && now.Before(t.ExpiresAt)
}

// AccountTokenRepository stores one-time account tokens. Times are those
// the service passes in (UTC, microsecond precision). Using a token is
// atomic: of any number of concurrent uses of one token, exactly one
// succeeds. Deleting a user deletes its tokens.
type AccountTokenRepository interface {
	// CreateAccountToken stores t (a token of a missing user is an error).
	CreateAccountToken(ctx context.Context, t AccountToken) error
	// AccountToken returns the token whose hash is hash, used or not;
	// ErrInvalidToken when there is none.
	AccountToken(ctx context.Context, hash []byte) (AccountToken, error)
	// UseVerifyEmailToken marks the verification token hash used at now
	// and, in the same transaction, marks its user's email verified when
	// the user's email still equals (ignoring letter case) the one the
	// token was sent to. It returns the user as it is afterwards.
	// ErrInvalidToken: no usable verification token of that hash (unknown,
	// another purpose, used, or expired at now); ErrEmailChanged: the token
	// was used up but the address is no longer the user's.
	UseVerifyEmailToken(ctx context.Context, hash []byte, now time.Time) (User, error)
	// UseResetPasswordToken marks the reset token hash used at now and, in
	// the same transaction where the store allows, stores passwordHash
	// (incrementing the token version, as SetPassword), marks every other
	// unused reset token of the user used, and revokes every session of the
	// user at now. ErrInvalidToken: no usable reset token of that hash.
	UseResetPasswordToken(ctx context.Context, hash []byte, passwordHash string, now time.Time) (User, error)
}

// Account token errors.
var (
	// ErrInvalidToken is a verification or reset token that is unknown,
	// expired or already used. It is one error on purpose: the client can
	// only ask for a new one, and learns nothing about which tokens exist.
	ErrInvalidToken = errors.New("the token is invalid, expired or already used: ask for a new one")
	// ErrEmailChanged is a store's answer to a verification token sent to
	// an address that is no longer the user's; the service reports it as
	// ErrInvalidToken.
	ErrEmailChanged = errors.New("the token was sent to an address that is no longer the account's")
	// ErrAlreadyVerified is a request for a verification mail for an email
	// that is already verified.
	ErrAlreadyVerified = errors.New("your email address is already verified")
	// ErrEmailNotVerified is a login (or refresh) with the right password
	// of an account whose email is not verified, when verification is
	// required.
	ErrEmailNotVerified = errors.New("verify your email address before logging in: we have sent you a new link")
)
