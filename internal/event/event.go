// Package event is the catalogue of what usersvc tells other services:
// one Event per change to an account or a session, emitted in the
// transaction of the change (a committed change always has its event, a
// rolled-back one never), and handed to every consumer (the NATS sink,
// webhooks) at least once. It knows no transport and no store: the domain
// (package user) makes events, adapters deliver them.
package event

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Event is one thing that happened to an account. Its JSON form is what
// consumers receive; it never holds a secret, a token or a password hash.
type Event struct {
	// ID identifies the event: consumers deduplicate by it (a redelivered
	// event has the same ID).
	ID string `json:"id"`
	// Type is one of Types.
	Type string `json:"type"`
	// Time is when the change happened (UTC).
	Time time.Time `json:"time"`
	// Subject is the account the event is about.
	Subject uuid.UUID `json:"subject"`
	// Seq numbers the events of one Subject 1, 2, 3... in the order their
	// changes committed: a consumer that gets them out of order (after a
	// retry) can put them back, and one that sees a gap knows an event is
	// still on its way.
	Seq int64 `json:"seq"`
	// Data is the type's payload (see Types and the OpenAPI document's
	// webhooks section), a JSON object.
	Data json.RawMessage `json:"data"`
}

// The event types: Version is part of the catalogue's contract; a change
// that removes or renames a field of a type's data gets a new type name.
const (
	Version = "1"

	UserCreated         = "user.created"
	UserUpdated         = "user.updated"
	UserEmailChanged    = "user.email_changed"
	UserEmailVerified   = "user.email_verified"
	UserPasswordChanged = "user.password_changed"
	UserRoleChanged     = "user.role_changed"
	UserDeactivated     = "user.deactivated"
	UserReactivated     = "user.reactivated"
	UserDeleted         = "user.deleted"
	SessionCreated      = "session.created"
	SessionRevoked      = "session.revoked"
	UserMFAEnabled      = "user.mfa_enabled"
	UserMFADisabled     = "user.mfa_disabled"
	AppConsentRevoked   = "app.consent_revoked"
)

// Types lists every event type with what it means, in catalogue order.
var Types = []TypeInfo{
	{UserCreated, "An account was created (registration, an administrator, create-admin).", UserData{}},
	{UserUpdated, "Profile fields of an account changed; fields names which.", UpdatedData{}},
	{UserEmailChanged, "An account's email changed (by its owner, an administrator, or an undo). The new address is not verified yet (user.email_verified).", EmailChangedData{}},
	{UserEmailVerified, "An account proved its email address.", UserData{}},
	{UserPasswordChanged, "An account's password was changed or reset; its other sessions were revoked.", PasswordChangedData{}},
	{UserRoleChanged, "An administrator changed an account's role.", RoleChangedData{}},
	{UserDeactivated, "An account was deactivated: it can no longer log in.", UserData{}},
	{UserReactivated, "A deactivated account was reactivated.", UserData{}},
	{UserDeleted, "An account was deleted for good: purge what you keep about it.", DeletedData{}},
	{SessionCreated, "An account logged in (a new session).", SessionData{}},
	{SessionRevoked, "A session ended before its expiry (logout, revocation, the other sessions of a password change, a reused refresh token, each live session of an account deleted): one event per session; all: every session at once (logout everywhere, password reset, an email change undone).", SessionData{}},
	{UserMFAEnabled, "An account got its first second factor (an authenticator app confirmed or a passkey added while it had none): its password logins now ask for one.", MFAData{}},
	{UserMFADisabled, "An account's last second factor was removed (by its owner, or every one by an administrator's reset).", MFAData{}},
	{AppConsentRevoked, "An account took back its consent to a relying party of the OpenID provider: the app's grants of it ended (its refresh tokens no longer work) and its next sign-in asks again.", ConsentData{}},
}

// TypeInfo describes one event type: Data is a zero value of its payload.
type TypeInfo struct {
	Name        string
	Description string
	Data        any
}

// Known reports whether name is one of Types.
func Known(name string) bool {
	return slices.ContainsFunc(Types, func(t TypeInfo) bool { return t.Name == name })
}

// The payloads. Each holds what a consumer needs to sync its copy without
// asking usersvc, and nothing secret.

// UserData is the account as other services see it.
type UserData struct {
	ID       uuid.UUID `json:"id"`
	Email    string    `json:"email"`
	Username string    `json:"username"`
	// FullName is "" when the account has none: always present, so that
	// a consumer merging what it gets into its copy sees a name cleared.
	FullName      string `json:"full_name"`
	Role          string `json:"role"`
	IsActive      bool   `json:"is_active"`
	EmailVerified bool   `json:"email_verified"`
}

// UpdatedData is a user.updated payload: the account after the change and the
// names of the fields that changed.
type UpdatedData struct {
	User   UserData `json:"user"`
	Fields []string `json:"fields"`
}

// EmailChangedData is a user.email_changed payload.
type EmailChangedData struct {
	User          UserData `json:"user"`
	PreviousEmail string   `json:"previous_email"`
}

// ConsentData is an app.consent_revoked payload: the app's client id, and
// its name in the client registry ("" when the registry does not know it).
type ConsentData struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
}

// MFAData is a user.mfa_enabled or user.mfa_disabled payload: the method
// ("otp", or "all" for an administrator's reset).
type MFAData struct {
	Method string `json:"method" enum:"otp,webauthn,all"`
}

// PasswordChangedData is a user.password_changed payload: how (changed by the
// owner, reset by mail, or set by an administrator).
type PasswordChangedData struct {
	How string `json:"how" enum:"changed,reset,set_by_operator"`
}

// RoleChangedData is a user.role_changed payload.
type RoleChangedData struct {
	User         UserData `json:"user"`
	PreviousRole string   `json:"previous_role"`
}

// DeletedData is a user.deleted payload.
type DeletedData struct {
	ID uuid.UUID `json:"id"`
}

// SessionData is a session.created or session.revoked payload; SessionID
// identifies the session, never its tokens.
type SessionData struct {
	SessionID uuid.UUID `json:"session_id"`
	// All is set when every session of the account was revoked at once.
	All bool `json:"all,omitempty"`
}
