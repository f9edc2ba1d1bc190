// Package user holds the user domain: the User entity, its errors, the
// Repository every store implements, and Service, where every business rule
// lives. It knows nothing about HTTP, SQL or JWT.
package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Role says what the user may do beyond their own account: RoleUser or
	// RoleAdmin. Create stores RoleUser when it is empty.
	Role Role
	// EmailVerified is set once the user proves they receive mail at Email;
	// changing Email clears it.
	EmailVerified bool
	// TokenVersion changes whenever the password does; access tokens carry the
	// version they were issued under and are refused once it moves on.
	TokenVersion int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Patch is a partial update: a nil field keeps its current value. Users
// change their own FullName and Email; administrators may also change
// IsActive and Role.
type Patch struct {
	FullName *string
	Email    *string
	IsActive *bool
	Role     *Role
}

// Role is what a user may do beyond their own account. The stores accept
// the roles of Roles only.
type Role string

// The roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Roles lists every role, least privileged first.
var Roles = []Role{RoleUser, RoleAdmin}

// IsAdmin reports whether u has the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Repository stores users. Implementations translate their driver's errors
// into this package's sentinels: a missing row is ErrNotFound, a duplicate
// email or username (compared without regard to letter case) is
// ErrEmailTaken or ErrUsernameTaken.
type Repository interface {
	// Create inserts u (ID, Email, Username, PasswordHash, FullName, Role,
	// EmailVerified; an empty Role is RoleUser) and returns it with the
	// columns the database fills in.
	Create(ctx context.Context, u User) (User, error)
	// ByID returns the user with that id.
	ByID(ctx context.Context, id uuid.UUID) (User, error)
	// ByEmail returns the user whose email matches, ignoring letter case.
	ByEmail(ctx context.Context, email string) (User, error)
	// ByUsername returns the user whose username matches, ignoring letter case.
	ByUsername(ctx context.Context, username string) (User, error)
	// Update applies p to the user and returns the result. A new Email that
	// differs from the old one other than in letter case clears
	// EmailVerified, in the same statement.
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
	AuditRepository
	AdminRepository
	AccountTokenRepository
}

// Business errors. The HTTP layer maps each to one status code.
var (
	ErrNotFound           = errors.New("user not found")
	ErrEmailTaken         = errors.New("a user with this email already exists")
	ErrUsernameTaken      = errors.New("a user with this username already exists")
	ErrInvalidCredentials = errors.New("incorrect username or password")
	ErrWrongPassword      = errors.New("current password is incorrect")
	ErrUnauthenticated    = errors.New("could not validate credentials")
	// ErrForbidden is a signed-in user asking for what their role does not
	// allow.
	ErrForbidden = errors.New("this requires the admin role")
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
