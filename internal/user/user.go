// Package user holds the user domain: the User entity, its errors, the
// Repository every store implements, and Service, where every business rule
// lives. It knows nothing about HTTP, SQL or JWT.
package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// User is a registered account as the stores keep it. It never goes on the
// wire: the HTTP layer copies the public fields into its own type.
type User struct {
	ID           uuid.UUID
	Email        string
	Username     string
	PasswordHash string
	FullName     string // empty when the user has not given one
	IsActive     bool
	// TokenVersion changes whenever the password does; access tokens carry the
	// version they were issued under and are refused once it moves on.
	TokenVersion int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Patch is a partial profile update: a nil field keeps its current value.
type Patch struct {
	FullName *string
	Email    *string
}

// Repository stores users. Implementations translate their driver's errors
// into this package's sentinels: a missing row is ErrNotFound, a duplicate
// email or username (compared without regard to letter case) is
// ErrEmailTaken or ErrUsernameTaken.
type Repository interface {
	// Create inserts u (ID, Email, Username, PasswordHash, FullName) and
	// returns it with the columns the database fills in.
	Create(ctx context.Context, u User) (User, error)
	// ByID returns the user with that id.
	ByID(ctx context.Context, id uuid.UUID) (User, error)
	// ByEmail returns the user whose email matches, ignoring letter case.
	ByEmail(ctx context.Context, email string) (User, error)
	// ByUsername returns the user whose username matches, ignoring letter case.
	ByUsername(ctx context.Context, username string) (User, error)
	// Update applies p to the user and returns the result.
	Update(ctx context.Context, id uuid.UUID, p Patch) (User, error)
	// SetPassword stores a new hash and increments the token version, in one
	// statement, so no token issued before it stays valid.
	SetPassword(ctx context.Context, id uuid.UUID, hash string) error
	// RehashPassword replaces the hash old with hash, the same password
	// hashed with new settings, and keeps the token version. It does
	// nothing when the stored hash is no longer old (the password changed
	// meanwhile) or the user is gone.
	RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error
	// Delete removes the user, its sessions and their refresh tokens.
	Delete(ctx context.Context, id uuid.UUID) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	SessionRepository
}

// Business errors. The HTTP layer maps each to one status code.
var (
	ErrNotFound           = errors.New("user not found")
	ErrEmailTaken         = errors.New("a user with this email already exists")
	ErrUsernameTaken      = errors.New("a user with this username already exists")
	ErrInvalidCredentials = errors.New("incorrect username or password")
	ErrWrongPassword      = errors.New("current password is incorrect")
	ErrUnauthenticated    = errors.New("could not validate credentials")
	// ErrUnavailable is a database that cannot answer now (down, unreachable,
	// locked past its busy timeout, read-only): the request may succeed if
	// retried later. Stores wrap it together with the driver's error.
	ErrUnavailable = errors.New("the service is temporarily unavailable, try again later")
)

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field   string // the wire name of the field, e.g. "email"
	Message string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
