package user

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AccessToken is a signed bearer token and how long it stays valid, with
// the refresh token issued beside it and the session both belong to.
type AccessToken struct {
	Token        string
	ExpiresIn    time.Duration
	RefreshToken string
	SessionID    uuid.UUID
	UserID       uuid.UUID // whose session it is
	// DeviceToken, issued by a password login, lets the client's next
	// logins of this account through failures from elsewhere (devices.go).
	DeviceToken string
}

// LoginAttempt is one password attempt as the LoginGuard sees it.
type LoginAttempt struct {
	// Key names the account: "id:<user id>" when the login names an
	// account, "login:<the login, trimmed, its ASCII letters
	// lower-cased>" otherwise.
	Key string
	// Device is the id of a device that proved itself on this account
	// before (a device token of it), "" for none: such an attempt is
	// counted and locked out for that device alone.
	Device string
	// Fingerprint tells identical attempts apart from others without
	// holding the password: a keyed hash of the account key and the
	// password.
	Fingerprint string
}

// fingerprint is LoginAttempt.Fingerprint of password on key.
func (s *Service) fingerprint(key, password string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("usersvc login attempt\x00" + key + "\x00" + password))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// accountKey is the LoginGuard's key for a login that found u (found) or
// nothing. Two logins that name no account share a key exactly when they
// would name the same account if it existed (byLogin: trimmed, ASCII
// letters in any case), so that a lockout answers every spelling of an
// address alike whether or not an account has it.
func accountKey(u User, found bool, login string) string {
	if found {
		return "id:" + u.ID.String()
	}
	return "login:" + strings.Map(asciiLower, strings.TrimSpace(login))
}

// asciiLower is r lower-cased when it is an ASCII capital letter, else r.
func asciiLower(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}

// Login checks a username or email and a password, opens a session (with
// the client of WithClient) and issues its access and refresh tokens and a
// device token. Unknown accounts, wrong passwords and inactive accounts
// all cost one full password verification and all give
// ErrInvalidCredentials. deviceToken is the device token the client got
// from an earlier login, if any: a valid one of this account lets the
// attempt through the account's lockout, counted for that device alone.
func (s *Service) Login(ctx context.Context, login, password, deviceToken string) (AccessToken, error) {
	if s.saturated() {
		return AccessToken{}, ErrBusy
	}
	u, err := s.byLogin(ctx, login)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return AccessToken{}, err
	}
	found := err == nil
	now := s.now()
	attempt := LoginAttempt{Key: accountKey(u, found, login)}
	attempt.Fingerprint = s.fingerprint(attempt.Key, password)
	var secondFactor bool // the device proved the second factor before
	if found {
		attempt.Device, secondFactor = s.deviceOf(deviceToken, u.ID, now)
	}
	if s.guard != nil {
		if err := s.guard.Admit(ctx, attempt); err != nil {
			return AccessToken{}, err
		}
	}
	check, err := s.checkPassword(ctx, u, found, password)
	if err != nil {
		return AccessToken{}, err
	}
	codeDevice := attempt.Device // whose count the second step's codes are in
	if !secondFactor {
		codeDevice = ""
	}
	t, err := s.login(ctx, u, found, check, codeDevice)
	if err == nil {
		t.DeviceToken = deviceToken
		if attempt.Device == "" {
			t.DeviceToken = s.newDeviceToken(u.ID, now, false)
		}
	}
	if s.guard != nil {
		switch {
		case err == nil:
			s.guard.Succeeded(ctx, attempt)
		case errors.Is(err, ErrInvalidCredentials):
			s.guard.Failed(ctx, attempt)
		}
	}
	return t, err
}

// passwordCheck is what a login's hashing found.
type passwordCheck struct {
	ok bool // the password is the account's
	// rehash is the password hashed with the current settings when ok and
	// the stored hash was made with others, "" otherwise.
	rehash string
}

// checkPassword does a login's hashing, and only that, in a hashing slot:
// the slot bounds CPU-bound work, and a login that kept it through its
// database writes would leave a core idle for each round trip. An account
// that was not found costs a verification against the dummy hash, the same
// as a wrong password.
func (s *Service) checkPassword(ctx context.Context, u User, found bool, password string) (passwordCheck, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return passwordCheck{}, err
	}
	defer release()
	if !found {
		dummy, err := s.dummyHash()
		if err != nil {
			return passwordCheck{}, fmt.Errorf("dummy hash: %w", err)
		}
		s.hasher.Verify(dummy, password)
		return passwordCheck{}, nil
	}
	if !s.hasher.Verify(u.PasswordHash, password) {
		return passwordCheck{}, nil
	}
	check := passwordCheck{ok: true}
	// An inactive account's login fails, so its hash is not renewed: the
	// extra hash would also tell its right password from a wrong one by
	// the time the 401 takes.
	if u.IsActive && s.hasher.NeedsRehash(u.PasswordHash) {
		check.rehash = s.rehashed(ctx, password)
	}
	return check, nil
}

// reasonWrongPassword is the reason of a login.failed audit event whose
// password was wrong: at a login, and for a session's proof of its
// password (reauth.go).
const reasonWrongPassword = "wrong_password"

// login is Login once the account is looked up (found says whether it
// exists) and its password checked, with no hashing slot held. A failed
// login that cannot be audited is ErrUnavailable, not a silent 401; a
// successful one opens its session and records it in one transaction,
// unless the account has a second factor: then it is an
// *MFARequiredError (mfa_login.go) for the login's device, "" unless the
// device proved the second factor before (devices.go).
func (s *Service) login(ctx context.Context, u User, found bool, check passwordCheck, device string) (AccessToken, error) {
	var reason string
	switch {
	case !found:
		// The login typed is not kept: it is often a password typed in the
		// wrong field.
		reason = "unknown_account"
	case !check.ok:
		reason = reasonWrongPassword
	case !u.IsActive:
		reason = "inactive"
	}
	if reason != "" {
		e := s.event(ctx, AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": reason})
		if err := s.appendEvent(ctx, s.stores, false, e); err != nil {
			return AccessToken{}, err
		}
		return AccessToken{}, ErrInvalidCredentials
	}
	if err := s.checkVerified(ctx, u); err != nil { // verification.go
		return AccessToken{}, err
	}
	s.storeRehash(ctx, u, check.rehash)
	// The account's factors are read in the session's transaction, which
	// holds the account (openSession): a first factor added meanwhile
	// either is seen here or ends the session with the others.
	var methods []string
	tok, err := s.openSession(ctx, u, nil, func(tx Stores) (Assurance, error) {
		var err error
		if methods, err = s.loginMethodsIn(ctx, &tx, u.ID); err != nil {
			return Assurance{}, err
		}
		if len(methods) > 0 {
			return Assurance{}, errSecondStep
		}
		return passwordOnly(), nil
	})
	if errors.Is(err, errSecondStep) {
		return AccessToken{}, s.challenge(ctx, u, device, methods)
	}
	return tok, err
}

// errSecondStep ends a password login's session transaction, which opens
// nothing, when the account has a second factor to ask for.
var errSecondStep = errors.New("the login needs a second step")

// byLogin finds a user by email when login, trimmed, looks like one
// (usernames cannot contain '@'), by username otherwise. Emails and
// usernames are printable ASCII, so any other login names no account: it
// is not looked up, since a database's lower() may fold a look-alike (the
// Kelvin sign) into an ASCII letter and another's not.
func (s *Service) byLogin(ctx context.Context, login string) (User, error) {
	login = strings.TrimSpace(login)
	if login == "" || len(login) > MaxEmail || !isPrintableASCII(login) {
		return User{}, ErrNotFound
	}
	if strings.Contains(login, "@") {
		return s.users.ByEmail(ctx, login)
	}
	return s.users.ByUsername(ctx, login)
}

// rehashed returns password hashed with the current settings, "" when
// hashing fails (which is only logged: the old hash still verifies and the
// next login tries again). The caller holds a hashing slot.
func (s *Service) rehashed(ctx context.Context, password string) string {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		s.log.WarnContext(ctx, "re-hash of a password on login failed; the old hash stays", "error", err.Error())
		return ""
	}
	return hash
}

// storeRehash replaces u's password hash by hash, a rehash of the same
// password ("" does nothing). Failure leaves the old hash and is only
// logged.
func (s *Service) storeRehash(ctx context.Context, u User, hash string) {
	if hash == "" {
		return
	}
	if err := s.users.RehashPassword(ctx, u.ID, u.PasswordHash, hash); err != nil {
		s.log.WarnContext(ctx, "re-hash of a password on login failed; the old hash stays", "error", err.Error())
	}
}
