// Package passkey is the WebAuthn relying party of usersvc: passkeys
// (public-key credentials held by an authenticator) registered to an
// account, the ceremonies that register them and sign in with them, and
// the ports that store both. It uses github.com/go-webauthn/webauthn for
// the protocol; the account rules it needs (re-authentication, opening a
// session) stay in package user, behind Accounts.
package passkey

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Passkey is one credential registered to an account.
type Passkey struct {
	ID     uuid.UUID
	UserID uuid.UUID
	// CredentialID is the authenticator's id of the credential (unique
	// across all accounts).
	CredentialID []byte
	// Name is what its owner calls it ("Laptop"), at most MaxName bytes.
	Name string
	// Record is the relying party's credential record (public key, flags,
	// authenticator data), the library's JSON; opaque to the stores.
	Record []byte
	// SignCount is the authenticator's signature counter as last seen: a
	// use whose counter does not move past it (when either is nonzero)
	// suggests a cloned authenticator.
	SignCount int64
	// AMR is the RFC 8176 method a sign-in with it stands for: "hwk" for
	// a key bound to its device, "swk" for one the authenticator may copy
	// to other devices (backup eligible: a synced passkey).
	AMR        string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used to sign in
}

// The amr values of a passkey.
const (
	AMRHardware = user.AMRHardwareKey
	AMRSoftware = user.AMRSoftwareKey
)

// Ceremony kinds: what a begun ceremony may be finished as.
const (
	KindRegister     = "register"
	KindLogin        = "login"
	KindSecondFactor = "second_factor"
)

// Ceremony is a begun WebAuthn ceremony, kept server-side between its two
// steps: its challenge never leaves the server except inside the options,
// and a ceremony is used once.
type Ceremony struct {
	// Hash is the SHA-256 of the handle given to the client.
	Hash []byte
	Kind string
	// UserID and SessionID bind it: a registration to the account and
	// session that began it, a second factor to its account; uuid.Nil for
	// a usernameless sign-in.
	UserID    uuid.UUID
	SessionID uuid.UUID
	// Data is the library's session data (challenge, expected user,
	// allowed credentials), JSON.
	Data      []byte
	ExpiresAt time.Time
}

// Store keeps passkeys. Deleting an account deletes its passkeys.
type Store interface {
	// Create stores p; ErrTaken when its CredentialID is stored already.
	Create(ctx context.Context, p Passkey) error
	// ByUser returns userID's passkeys, oldest first.
	ByUser(ctx context.Context, userID uuid.UUID) ([]Passkey, error)
	// ByCredentialID returns the passkey of that credential id;
	// ErrNotFound when there is none.
	ByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// Rename sets the name of userID's passkey id and returns it;
	// ErrNotFound when userID has no such passkey.
	Rename(ctx context.Context, userID, id uuid.UUID, name string) (Passkey, error)
	// Delete removes userID's passkey id; ErrNotFound when there is none.
	Delete(ctx context.Context, userID, id uuid.UUID) error
	// Used stores p's Record, SignCount and LastUsedAt after a sign-in,
	// only when the stored SignCount is still prev: of two sign-ins that
	// read one counter, one fails with ErrStale. A missing passkey is
	// ErrNotFound.
	Used(ctx context.Context, p Passkey, prev int64) error
}

// Ceremonies keeps begun ceremonies until they are finished or expire.
type Ceremonies interface {
	// Put stores c and removes the ceremonies expired at now.
	Put(ctx context.Context, c Ceremony, now time.Time) error
	// Take removes the ceremony of hash and returns it; ErrCeremony when
	// there is none or it expired at now. Of concurrent takes of one
	// ceremony, one succeeds.
	Take(ctx context.Context, hash []byte, now time.Time) (Ceremony, error)
}

// Stores are the ports of one database.
type Stores struct {
	Passkeys   Store
	Ceremonies Ceremonies
	// In returns the passkeys on the transaction of tx, Stores that the
	// database's user.Transactor gave: a change of passkeys then commits
	// with its audit event and its event, or not at all (the fake, too:
	// passkeytest.Memory joins usertest.Memory's transactions). Nil when
	// the passkeys are in no transaction of the accounts': Passkeys is
	// used.
	In func(tx user.Stores) (Store, error)
}

// The errors of the relying party and its stores.
var (
	ErrNotFound = errors.New("passkey not found")
	ErrTaken    = errors.New("this passkey is registered already")
	ErrStale    = errors.New("the passkey was used meanwhile")
	// ErrCeremony is a ceremony that is unknown, expired, used already or
	// not the caller's.
	ErrCeremony = errors.New("unknown, expired or used ceremony: begin again")
	// ErrVerification is an authenticator response that does not verify
	// (wrong challenge, origin, signature, user verification...).
	ErrVerification = errors.New("the passkey response could not be verified")
	// ErrTooMany is one passkey more than MaxPerUser.
	ErrTooMany = errors.New("too many passkeys: remove one first")
	// ErrInvalidName is an empty or overlong name, or one with control or
	// invisible formatting characters (user.Readable).
	ErrInvalidName = errors.New("a passkey name is 1 to 64 characters, without control or invisible formatting characters")
)

// Limits.
const (
	// MaxName is the longest passkey name, in bytes.
	MaxName = 64
	// MaxPerUser is how many passkeys an account may hold.
	MaxPerUser = 20
	// DefaultCeremonyTTL is how long a begun ceremony may be finished.
	DefaultCeremonyTTL = 5 * time.Minute
	// MaxResponse is the largest authenticator response accepted, in
	// bytes.
	MaxResponse = 16 << 10
)
