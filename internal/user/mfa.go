package user

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Second factors (issue 22): TOTP and recovery codes kept by the Factors
// port, the mfa_required exchange of a password login kept by the
// MFAChallenges port, and the methods other packages add (passkeys) as a
// SecondFactor. The rules are in mfa_factors.go and mfa_login.go.

// Authentication method references (RFC 8176 "amr" values) a session
// records and its tokens carry.
const (
	AMRPassword    = "pwd" // the password
	AMROTP         = "otp" // a TOTP code or a recovery code
	AMRMFA         = "mfa" // more than one factor
	AMRHardwareKey = "hwk" // a hardware-bound key (a passkey of a security key)
	AMRSoftwareKey = "swk" // a software-bound key (a synced passkey)
)

// Authentication context class references ("acr"): how strongly a
// session's holder proved who they are.
const (
	ACRSingleFactor = "urn:usersvc:acr:1fa" // the password alone
	ACRMultiFactor  = "urn:usersvc:acr:2fa" // the password and a second factor
)

// The second-factor methods an mfa_required answer lists (and the grants
// that answer them).
const (
	MethodOTP          = "otp"
	MethodRecoveryCode = "recovery_code"
	MethodWebAuthn     = "webauthn" // a passkey (package passkey)
)

// Assurance is how a session was opened: its amr values and acr.
type Assurance struct {
	AMR []string
	ACR string
}

// passwordOnly is the assurance of a password login without a second
// factor, and of a session stored before sessions kept theirs.
func passwordOnly() Assurance {
	return Assurance{AMR: []string{AMRPassword}, ACR: ACRSingleFactor}
}

// MultiFactor reports whether a proved a second factor.
func (a Assurance) MultiFactor() bool { return a.ACR == ACRMultiFactor }

// TOTPFactor is an account's TOTP authenticator (RFC 6238).
type TOTPFactor struct {
	UserID uuid.UUID
	// Secret is the shared secret sealed with the key-encryption key
	// (Sealer), never plaintext.
	Secret    []byte
	CreatedAt time.Time
	// ConfirmedAt is when a first code proved the authenticator holds the
	// secret; zero until then, and an unconfirmed factor asks nothing at
	// login.
	ConfirmedAt time.Time
	// LastStep is the time step (Unix time / 30 s) of the last code
	// accepted: a code of that step or an earlier one is refused, so a
	// code works once.
	LastStep int64
}

// Confirmed reports whether f asks for a code at login.
func (f TOTPFactor) Confirmed() bool { return !f.ConfirmedAt.IsZero() }

// MFAChallenge is the pending second step of a password login: the
// mfa_token handed out with mfa_required (only its SHA-256 is kept),
// usable once, for a few minutes, by the client that logged in.
type MFAChallenge struct {
	Hash   []byte
	UserID uuid.UUID
	// ClientID is the client_id of the login ("" for none): the second
	// step must name the same one.
	ClientID string
	// Device is the device id the login proved with a device token that
	// an earlier second step issued, "" for none: the second step is
	// counted against that device (any other device's against the
	// account).
	Device    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
	FailedAt  time.Time // the first wrong proof's (MarkFailed), zero while none
}

// Factors stores accounts' second factors: TOTP authenticators and
// recovery codes. Deleting a user deletes its factors. A missing TOTP
// factor is ErrFactorNotFound.
type Factors interface {
	// PutTOTP stores f as its user's TOTP factor, replacing one that is
	// not confirmed; ErrFactorExists when a confirmed one is stored.
	PutTOTP(ctx context.Context, f TOTPFactor) error
	// TOTP returns userID's TOTP factor, confirmed or not.
	TOTP(ctx context.Context, userID uuid.UUID) (TOTPFactor, error)
	// UseTOTP records that a code of time step step of f, its user's
	// factor as TOTP returned it, was accepted at at: it moves LastStep to
	// step and confirms the factor if it is not yet, only when the stored
	// factor is still f (the same Secret: no enrolment replaced it since
	// the code was checked) and step is after its LastStep, atomically (of
	// two concurrent uses of one code, one succeeds). ErrFactorNotFound
	// when the user has no TOTP factor or another one than f; ErrCodeUsed
	// when step is not after LastStep.
	UseTOTP(ctx context.Context, f TOTPFactor, step int64, at time.Time) error
	// DeleteTOTP removes userID's TOTP factor.
	DeleteTOTP(ctx context.Context, userID uuid.UUID) error
	// SetRecoveryCodes replaces every recovery code of userID by the codes
	// of hashes, made at at.
	SetRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks userID's unused recovery code of hash used at
	// at and returns how many unused ones are left; ErrInvalidCode when
	// there is no such unused code. Of concurrent uses of one code, one
	// succeeds.
	UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash []byte, at time.Time) (left int, err error)
	// RecoveryCodes returns how many unused recovery codes userID has.
	RecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error)
	// DeleteAll removes userID's TOTP factor and recovery codes and
	// reports whether there was any.
	DeleteAll(ctx context.Context, userID uuid.UUID) (bool, error)
}

// MFAChallenges stores the pending second steps of logins. Deleting a
// user deletes its challenges.
type MFAChallenges interface {
	// Create stores c, and removes the challenges of c's user that have
	// expired by c.CreatedAt.
	Create(ctx context.Context, c MFAChallenge) error
	// ByHash returns the challenge of hash, used or not;
	// ErrInvalidMFAToken when there is none.
	ByHash(ctx context.Context, hash []byte) (MFAChallenge, error)
	// Use marks the challenge of hash used at now; ErrInvalidMFAToken when
	// it is missing, used or expired at now. Of concurrent uses, one
	// succeeds; inside a transaction, the others wait for its end and
	// succeed only if it rolled back.
	Use(ctx context.Context, hash []byte, now time.Time) error
	// UseAll marks every unused challenge of userID used at now: the
	// logins of the account half done end with its sessions.
	UseAll(ctx context.Context, userID uuid.UUID, now time.Time) error
	// MarkFailed records that the challenge of hash got a wrong proof at
	// now, and says whether it is the first to be recorded: of
	// concurrent marks, one is. A missing challenge is false, not an
	// error.
	MarkFailed(ctx context.Context, hash []byte, now time.Time) (bool, error)
}

// TOTPKey is a new TOTP secret as an authenticator app takes it.
type TOTPKey struct {
	Secret string // base32, as typed into an app
	URI    string // the otpauth:// URI
	QRCode []byte // the URI as a QR code, PNG
	// Setup is the handle of this set-up (its secret sealed for the
	// account, base64url) that the client sends back with the first code
	// (ConfirmTOTPSetup): a code of this secret after a newer set-up
	// replaced it is then ErrTOTPSetupReplaced, not ErrInvalidCode.
	// EnrolTOTP makes it.
	Setup string
}

// TOTPCodes makes TOTP secrets and checks codes; the algorithm and its
// parameters (30 s steps, 6 digits, SHA-1, the apps' defaults) are its
// business.
type TOTPCodes interface {
	// NewKey makes a random secret for account (the email, shown in the
	// app beside the issuer).
	NewKey(account string) (TOTPKey, error)
	// Match returns the time step of code for secret at at, allowing one
	// step of clock drift either way, and false when code is none of
	// them. It compares in constant time.
	Match(secret, code string, at time.Time) (step int64, ok bool)
}

// Sealer encrypts secrets at rest; ad binds a sealed secret to its row.
// *signing.Sealer is one.
type Sealer interface {
	Seal(plain, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// SecondFactor is a kind of second factor kept outside Factors (passkeys):
// an account that has one is asked for a second factor at login, and an
// administrator's reset removes it.
type SecondFactor interface {
	// Method is its name in an mfa_required answer's methods ("webauthn").
	Method() string
	// Enrolled reports whether userID has a factor of this kind.
	Enrolled(ctx context.Context, userID uuid.UUID) (bool, error)
	// EnrolledIn is Enrolled read in tx, the transaction of a change of
	// userID's factors (Atomic's Stores): it sees the transaction's own
	// changes.
	EnrolledIn(ctx context.Context, tx Stores, userID uuid.UUID) (bool, error)
	// Reset removes every factor of this kind of userID in tx, the
	// transaction of the reset (with its audit event).
	Reset(ctx context.Context, tx Stores, userID uuid.UUID) error
}

// ChallengedFactor is a SecondFactor proved at login by a response to a
// challenge (a passkey's assertion): the client asks for the challenge
// of its login (ChallengeSecondFactor), has its authenticator answer it,
// and sends the answer with the mfa_token (LoginWithChallenge). What the
// challenge and the answer hold is the factor's business; the service
// passes them through.
type ChallengedFactor interface {
	SecondFactor
	// Challenge begins a proof by userID: a handle, usable once, and what
	// the client's authenticator needs (JSON).
	Challenge(ctx context.Context, userID uuid.UUID) (FactorChallenge, error)
	// Prove checks response, the authenticator's answer to the challenge
	// handle begun for userID, and returns the amr value it proves
	// (AMRHardwareKey, AMRSoftwareKey); ErrInvalidCode when it does not
	// verify or the challenge is unknown, used or expired.
	Prove(ctx context.Context, userID uuid.UUID, handle string, response []byte) (amr string, err error)
}

// FactorChallenge is a challenge of a ChallengedFactor.
type FactorChallenge struct {
	Handle  string // sent back with the response
	Options []byte // JSON for the client's authenticator
}

// MFA is the service's second-factor setup (Deps.MFA), beside the
// stores' Factors and MFAChallenges; without TOTP (or without those
// stores) enrolling is ErrMFAUnavailable.
type MFA struct {
	TOTP TOTPCodes
	// Sealer seals TOTP secrets; it is called on first need (so that a
	// deployment without second factors never makes a key for them) and
	// its error is then the request's.
	Sealer func() (Sealer, error)
	// More are the kinds of factor other packages keep (passkeys).
	More []SecondFactor
}

// MFAPolicy says whom the service refuses until they use a second factor.
type MFAPolicy string

// The MFA policies (USERSVC_REQUIRE_MFA_FOR).
const (
	RequireMFAForNone  MFAPolicy = "none"
	RequireMFAForAdmin MFAPolicy = "admin" // administrators, on the admin routes
	RequireMFAForAll   MFAPolicy = "all"   // everyone, on every route but enrolling
)

// DefaultMFAChallengeTTL is how long an mfa_token stays usable.
const DefaultMFAChallengeTTL = 5 * time.Minute

// RecoveryCodeCount is how many recovery codes a set has.
const RecoveryCodeCount = 10

// Second-factor errors.
var (
	// ErrMFARequired is a password login of an account with a second
	// factor: the *MFARequiredError that wraps it holds the mfa_token.
	ErrMFARequired = errors.New("this account has a second factor: finish the login with the mfa_token and one of the methods")
	// ErrInvalidMFAToken is an mfa_token that is unknown, expired, used,
	// or of another client.
	ErrInvalidMFAToken = errors.New("the mfa_token is invalid, expired or already used: log in with the password again")
	// ErrInvalidCode is a second-factor code that is wrong, or used
	// already (a TOTP code works once, a recovery code too).
	ErrInvalidCode = errors.New("the code is wrong or was used already")
	// ErrTOTPSetupReplaced is a first code that is wrong for the
	// authenticator being set up but right for the secret of an earlier
	// set-up of the account, which a newer one (another window or device)
	// replaced: the app scanned the old QR code.
	ErrTOTPSetupReplaced = errors.New("this code is from an authenticator set up with a secret you replaced since, in another window or device: scan the newest QR code (or type its secret) and enter the code it shows")
	// ErrCodeUsed is a store's answer to a TOTP code of a time step not
	// after the last one accepted.
	ErrCodeUsed = errors.New("the code was used already")
	// ErrFactorNotFound is a second factor the account does not have (or
	// has not confirmed, where a confirmed one is needed).
	ErrFactorNotFound = errors.New("no such second factor on this account")
	// ErrFactorExists is enrolling a TOTP authenticator, or confirming
	// one, when the account has a confirmed one already.
	ErrFactorExists = errors.New("this account has a confirmed TOTP authenticator already: remove it first")
	// ErrMFAUnavailable is enrolling while the service cannot keep
	// second-factor secrets (no key-encryption key in production).
	ErrMFAUnavailable = errors.New("second factors are not available: the service has no key-encryption key (USERSVC_KEY_ENCRYPTION_KEY)")
	// ErrMFAEnrolmentRequired is a route the MFA policy keeps from
	// accounts without a second factor.
	ErrMFAEnrolmentRequired = errors.New("this requires a second factor: enrol one with POST /api/v1/users/me/mfa/totp, then log in again")
	// ErrMFALoginRequired is such a route asked by a session opened
	// without the account's second factor (before it was enrolled).
	ErrMFALoginRequired = errors.New("this requires a session opened with your second factor: log in again")
)

// LoginProven says whether err, the outcome of a login step (a password,
// a second step, a passkey), proves that the caller knew the account's
// password or its factor: the step succeeded, or asks for the second
// step. The per-address login limits count every step while it runs and
// take back those it proves (many people sign in from one office or
// mobile carrier's address; guessing fails).
func LoginProven(err error) bool { return err == nil || errors.Is(err, ErrMFARequired) }

// MFARequiredError is ErrMFARequired with what the client needs to go on.
type MFARequiredError struct {
	Token     string        // the mfa_token
	Methods   []string      // MethodOTP, MethodRecoveryCode, others' methods
	ExpiresIn time.Duration // how long Token stays usable
}

func (e *MFARequiredError) Error() string { return ErrMFARequired.Error() }

// Unwrap makes errors.Is(err, ErrMFARequired) hold.
func (e *MFARequiredError) Unwrap() error { return ErrMFARequired }
