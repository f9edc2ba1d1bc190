// Package user holds the user domain: the User entity and its siblings
// (sessions, account tokens, audit events), their errors, the ports the
// service needs (ports.go) and Service, where every business rule lives.
// It knows nothing about HTTP, SQL or JWT.
//
// Files by feature: account.go (register, profile, password, delete),
// login.go (password login and its guard), sessions.go (refresh, logout,
// authentication), verification.go and recovery.go (mailed tokens),
// admin.go and listing.go (administration), audit.go (the audit log and
// the data export).
package user

import (
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
	// TrustedEmail is where account recovery goes while Email is not
	// verified: the last verified email, or the address the account
	// registered with if none ever was. Stores keep it; the service never
	// sets it directly.
	TrustedEmail string
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
	// EmailVerified, true, says the (new) email is proven: it is verified
	// and becomes the trusted address. Only the service sets it (undoing an
	// email change restores an address its owner just proved).
	EmailVerified *bool
}

// RemovesAdmin reports whether p would make an active administrator stop
// being one: it sets another role or deactivates.
func (p Patch) RemovesAdmin() bool {
	return (p.Role != nil && *p.Role != RoleAdmin) || (p.IsActive != nil && !*p.IsActive)
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
