package user

import (
	"errors"
	"fmt"
)

// Business errors. The HTTP layer maps each, in one table, to a status, a
// stable code and its text; nothing else chooses a status.
var (
	// ErrNotFound is a user that does not exist. On the caller's own
	// account it never reaches a client: an account deleted while its
	// request ran is ErrUnauthenticated.
	ErrNotFound           = errors.New("user not found")
	ErrEmailTaken         = errors.New("a user with this email already exists")
	ErrUsernameTaken      = errors.New("a user with this username already exists")
	ErrInvalidCredentials = errors.New("incorrect username or password")
	ErrWrongPassword      = errors.New("current password is incorrect")
	ErrUnauthenticated    = errors.New("could not validate credentials")
	// ErrForbidden is a signed-in user asking for what their role does not
	// allow.
	ErrForbidden = errors.New("this requires the admin role")
	// ErrServiceAccountLimit is a service account asking for a change of
	// who controls an account that its scope never reaches: any role
	// change, or an administrator's email, second factors or existence.
	// Only an administrator who signed in recently may make those.
	ErrServiceAccountLimit = errors.New("a service account may not change a role, nor change the email or second factors of an administrator or delete one: an administrator, signed in, must")
	// ErrLastAdmin is a change that would leave the service without an
	// active administrator: demoting, deactivating or deleting the last one.
	ErrLastAdmin = errors.New("this would leave no active administrator: make another user an administrator first")
	// ErrUnavailable is a database that cannot answer now (down, unreachable,
	// locked past its busy timeout, read-only): the request may succeed if
	// retried later. Stores wrap it together with the driver's error.
	ErrUnavailable = errors.New("the service is temporarily unavailable, try again later")
	// ErrBusy is a request turned away because every password-hashing slot
	// is taken and the queue for one is full or was waited in too long.
	ErrBusy = errors.New("the service is busy hashing passwords, try again shortly")
	// ErrRateLimited is a request over a rate limit; the error that wraps it
	// says when to come back.
	ErrRateLimited = errors.New("too many requests")
	// ErrLocked is a login refused because its account had too many failed
	// logins recently; the error that wraps it says when to come back.
	ErrLocked = errors.New("too many failed logins for this account")
)

// Session errors.
var (
	// ErrSessionNotFound is a session that does not exist, is not the
	// caller's or is already revoked.
	ErrSessionNotFound = errors.New("session not found")
	// ErrJobNotFound is a job of the queue that does not exist (any more:
	// finished jobs are kept for a while only).
	ErrJobNotFound = errors.New("job not found")
	// ErrJobCompleted is a retry of a job that succeeded: run again, a
	// mail would go out twice, with a link that may be used up since.
	ErrJobCompleted = errors.New("the job has completed: running it again would do its work twice (a mail sent again)")
	// ErrInvalidGrant is a refresh token that is unknown, expired, already
	// used (reuse) or belongs to a revoked or expired session or an inactive
	// user. It is one error on purpose: the client can only log in again.
	ErrInvalidGrant = errors.New("the refresh token is invalid, expired or revoked")
	// ErrRevokerNotTokensClient is a revocation of a refresh token bound to
	// a client (its login named one) by a request that did not
	// authenticate as that client: the token's client must ask, with its
	// credentials if it has some (RFC 7009 section 2.1).
	ErrRevokerNotTokensClient = errors.New("client authentication failed: this token is revoked only by the client it was issued to, with its credentials")
	// ErrRefreshTokenUsed is a store's answer to rotating a token that
	// another request has rotated first.
	ErrRefreshTokenUsed = errors.New("refresh token already used")
)

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

// ErrUnprovenAccount is an operator's promotion of an existing account
// whose email is not verified, without a new password for it: whoever
// registered that address first may not be the operator.
var ErrUnprovenAccount = errors.New("the account's email is not verified, so nothing shows it is yours: give it a new password to promote it")

// ErrBootstrapConflict is a configured first administrator whose email or
// username belongs to an account that the configured password does not
// open: promoting it could hand the service to whoever registered it.
var ErrBootstrapConflict = errors.New("an account with the bootstrap administrator's email or username exists and the bootstrap password does not match it")

// ValidationError says which input field is wrong and why. Field is the
// field's name in the request that carried it ("email", "cursor"); where
// the field sat (body, query) is the caller's to say. Message is the
// rule in English for the JSON API; Code names the rule for the pages,
// which show their own text for it (a catalogue key per Code) filled
// with Args. Errors made outside this package may leave Code empty.
type ValidationError struct {
	Field   string
	Message string
	Code    Code
	Args    []any
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// invalid is the ValidationError of rule code on field, its message
// filled with args.
func invalid(field string, code Code, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(rules[code], args...), Code: code, Args: args}
}

// firstValidation returns the first *ValidationError inside a joined error.
func firstValidation(err error) error {
	var v *ValidationError
	if errors.As(err, &v) {
		return v
	}
	return err
}

// self turns ErrNotFound met on the caller's own account (deleted while
// the request ran) into ErrUnauthenticated: the credentials that named it
// are no longer good.
func self(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrUnauthenticated
	}
	return err
}
