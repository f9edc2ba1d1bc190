package user

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
)

// The audit events of second factors.
const (
	AuditMFAEnabled          AuditKind = "mfa.totp_enabled"
	AuditMFARemoved          AuditKind = "mfa.totp_removed"
	AuditMFARecoveryCodesNew AuditKind = "mfa.recovery_codes_generated"
	AuditMFARecoveryCodeUsed AuditKind = "mfa.recovery_code_used"
	AuditMFAReset            AuditKind = "mfa.reset"
	AuditMFACodeFailed       AuditKind = "mfa.code_failed"
)

// MFAStatus is what an account has of second factors.
type MFAStatus struct {
	// TOTP is "none", "pending" (enrolled, not confirmed) or "enabled".
	TOTP string
	// RecoveryCodes is how many unused recovery codes are left.
	RecoveryCodes int
	// Methods are the methods a login of the account is asked for (none
	// when it has no confirmed factor).
	Methods []string
}

// TOTP states of MFAStatus.
const (
	TOTPNone    = "none"
	TOTPPending = "pending"
	TOTPEnabled = "enabled"
)

// mfaOn reports whether the service can keep TOTP factors.
func (s *Service) mfaOn() bool {
	return s.mfa.TOTP != nil && s.sealer != nil && s.stores.Factors != nil && s.stores.MFAChallenges != nil
}

// TOTPSecretAD is the associated data a TOTP secret is sealed with: it
// opens only in its user's row (`usersvc keys reseal` seals it again so).
func TOTPSecretAD(id uuid.UUID) []byte { return []byte("usersvc totp secret\x00" + id.String()) }

func totpAD(id uuid.UUID) []byte { return TOTPSecretAD(id) }

// totpSetupAD is the associated data of a set-up handle (TOTPKey.Setup):
// it opens only for its user, and never as a stored secret.
func totpSetupAD(id uuid.UUID) []byte { return []byte("usersvc totp setup\x00" + id.String()) }

// EnrolTOTP starts enrolling a TOTP authenticator for c: a new secret,
// sealed and stored unconfirmed (replacing an unconfirmed one), returned
// once for the app. Adding a factor is sensitive (a thief's authenticator
// would lock the owner out): it needs a recent authentication.
// ErrFactorExists when c has a confirmed one.
func (s *Service) EnrolTOTP(ctx context.Context, c Caller) (TOTPKey, error) {
	if !s.mfaOn() {
		return TOTPKey{}, ErrMFAUnavailable
	}
	if err := s.recentlyAuthenticated(ctx, c, ""); err != nil {
		return TOTPKey{}, err
	}
	sealer, err := s.sealer()
	if err != nil {
		return TOTPKey{}, fmt.Errorf("%w: %w", ErrMFAUnavailable, err)
	}
	key, err := s.mfa.TOTP.NewKey(c.User.Email)
	if err != nil {
		return TOTPKey{}, fmt.Errorf("new TOTP key: %w", err)
	}
	f := TOTPFactor{UserID: c.User.ID, Secret: sealer.Seal([]byte(key.Secret), totpAD(c.User.ID)), CreatedAt: s.now()}
	if err := s.stores.Factors.PutTOTP(ctx, f); err != nil {
		return TOTPKey{}, self(err)
	}
	key.Setup = base64.RawURLEncoding.EncodeToString(sealer.Seal([]byte(key.Secret), totpSetupAD(c.User.ID)))
	return key, nil
}

// ConfirmTOTP confirms c's enrolled TOTP authenticator with a first code
// from it and returns a new set of recovery codes, shown this once. From
// then on a password login of c's account asks for a code; when it is the
// account's first factor, its other sessions end (endPasswordOnlySessions).
// Wrong codes count against the account as failed logins do, for this
// session alone.
func (s *Service) ConfirmTOTP(ctx context.Context, c Caller, code string) ([]string, error) {
	return s.ConfirmTOTPSetup(ctx, c, code, "")
}

// ConfirmTOTPSetup is ConfirmTOTP with setup, the handle of the set-up
// the client showed (TOTPKey.Setup; "" for none): a code that is wrong
// for the pending secret but right for setup's, which a newer set-up
// replaced, is ErrTOTPSetupReplaced (counted as a wrong code), so that
// the user knows to scan the newer QR code. It tells nothing else: a code
// of neither secret, or a handle that does not open, is ErrInvalidCode.
func (s *Service) ConfirmTOTPSetup(ctx context.Context, c Caller, code, setup string) ([]string, error) {
	if !s.mfaOn() {
		return nil, ErrMFAUnavailable
	}
	f, err := s.stores.Factors.TOTP(ctx, c.User.ID)
	if err != nil {
		return nil, err
	}
	if f.Confirmed() {
		return nil, ErrFactorExists
	}
	attempt := LoginAttempt{Key: accountKey(c.User, true, ""), Device: "session:" + c.Session.ID.String()}
	attempt.Fingerprint = s.fingerprint(attempt.Device, "totp\x00"+code)
	step, err := s.guardedCode(ctx, c.User.ID, attempt, func() (int64, error) {
		step, err := s.matchTOTP(f, code)
		if errors.Is(err, ErrInvalidCode) && s.replacedSetupMatches(f, setup, code) {
			return 0, ErrTOTPSetupReplaced
		}
		return step, err
	})
	if err != nil {
		return nil, err
	}
	codes, hashes, err := s.newRecoveryCodes(c.User.ID)
	if err != nil {
		return nil, err
	}
	e := s.event(ctx, AuditMFAEnabled, c.User.ID, c.User.ID, map[string]string{"method": MethodOTP})
	err = s.atomically(ctx, e, func(tx Stores) error {
		return s.confirmTOTPIn(ctx, tx, c, f, step, hashes)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// confirmTOTPIn confirms f, c's pending TOTP factor, at step in tx, with
// new recovery codes (hashes); user.mfa_enabled when it is the account's
// first factor, after the end of the account's other sessions.
func (s *Service) confirmTOTPIn(ctx context.Context, tx Stores, c Caller, f TOTPFactor, step int64, hashes [][]byte) error {
	now := s.now()
	had, err := s.lockFactors(ctx, tx, c.User.ID)
	if err != nil {
		return err
	}
	if err := s.endPasswordOnlySessions(ctx, tx, c, had); err != nil {
		return err
	}
	// Only f, the factor the code was checked against: one that an
	// enrolment put in its place meanwhile, with a secret this client
	// never saw, stays pending (ErrFactorNotFound).
	if err := tx.Factors.UseTOTP(ctx, f, step, now); err != nil {
		if errors.Is(err, ErrCodeUsed) || errors.Is(err, ErrFactorNotFound) {
			return ErrInvalidCode
		}
		return err
	}
	if err := tx.Factors.SetRecoveryCodes(ctx, c.User.ID, hashes, now); err != nil {
		return err
	}
	if !had {
		if err := s.emit(ctx, tx, event.UserMFAEnabled, c.User.ID, event.MFAData{Method: MethodOTP}); err != nil {
			return err
		}
	}
	return s.notifyMFA(ctx, tx, c.User, MailTOTPEnabled)
}

// guardedCode runs match, a check of a second-factor code, under the
// login guard: a wrong code (match's ErrInvalidCode) counts as a failed
// login of attempt, and is audited.
func (s *Service) guardedCode(ctx context.Context, userID uuid.UUID, attempt LoginAttempt, match func() (int64, error)) (int64, error) {
	if s.guard != nil {
		if err := s.guard.Admit(ctx, attempt); err != nil {
			return 0, err
		}
	}
	step, err := match()
	if errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrTOTPSetupReplaced) {
		if s.guard != nil {
			s.guard.Failed(ctx, attempt)
		}
		s.record(ctx, AuditMFACodeFailed, uuid.Nil, userID, nil)
	}
	return step, err
}

// matchTOTP returns the time step of code for f now, ErrInvalidCode when
// it is wrong or of a step used already.
func (s *Service) matchTOTP(f TOTPFactor, code string) (int64, error) {
	sealer, err := s.sealer()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMFAUnavailable, err)
	}
	secret, err := sealer.Open(f.Secret, totpAD(f.UserID))
	if err != nil {
		return 0, fmt.Errorf("open TOTP secret: %w", err)
	}
	step, ok := s.mfa.TOTP.Match(string(secret), strings.TrimSpace(code), s.now())
	if !ok || step <= f.LastStep {
		return 0, ErrInvalidCode
	}
	return step, nil
}

// replacedSetupMatches reports whether setup is the handle of a set-up of
// f's user other than f's (one f replaced) and code is right for its
// secret now. Whatever does not open or match is false.
func (s *Service) replacedSetupMatches(f TOTPFactor, setup, code string) bool {
	if setup == "" {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(setup)
	if err != nil {
		return false
	}
	sealer, err := s.sealer()
	if err != nil {
		return false
	}
	earlier, err := sealer.Open(sealed, totpSetupAD(f.UserID))
	if err != nil {
		return false
	}
	pending, err := sealer.Open(f.Secret, totpAD(f.UserID))
	if err != nil || subtle.ConstantTimeCompare(earlier, pending) == 1 {
		return false // the set-up of the pending secret: its code was wrong
	}
	_, ok := s.mfa.TOTP.Match(string(earlier), strings.TrimSpace(code), s.now())
	return ok
}

// RemoveTOTP removes c's TOTP authenticator. It is sensitive: it needs a
// recent authentication. With no other factor left the recovery codes go
// too. A login waiting for its second step ends. The account's notice
// address is told.
func (s *Service) RemoveTOTP(ctx context.Context, c Caller) error {
	if s.stores.Factors == nil {
		return ErrFactorNotFound
	}
	if err := s.recentlyAuthenticated(ctx, c, ""); err != nil {
		return err
	}
	e := s.event(ctx, AuditMFARemoved, c.User.ID, c.User.ID, map[string]string{"method": MethodOTP})
	return s.atomically(ctx, e, func(tx Stores) error {
		had, err := s.lockFactors(ctx, tx, c.User.ID)
		if err != nil {
			return err
		}
		if err := s.endPendingLogins(ctx, tx, c.User.ID, s.now()); err != nil {
			return err
		}
		if err := tx.Factors.DeleteTOTP(ctx, c.User.ID); err != nil {
			return err
		}
		left, err := s.hasFactor(ctx, tx, c.User.ID)
		if err != nil {
			return err
		}
		if !left {
			if _, err := tx.Factors.DeleteAll(ctx, c.User.ID); err != nil {
				return err
			}
		}
		// Only the last confirmed factor's removal turns MFA off: an app
		// set up but never confirmed turned nothing on.
		if had && !left {
			if err := s.emit(ctx, tx, event.UserMFADisabled, c.User.ID, event.MFAData{Method: MethodOTP}); err != nil {
				return err
			}
		}
		return s.notifyMFA(ctx, tx, c.User, MailMFARemoved)
	})
}

// PasskeyAdded runs add, the passkey package's storing of c's new
// passkey (with its audit event), and in the same transaction does what
// adding one does beyond storing it: the account's notice address is
// told (a passkey signs in without the password, and outlives a password
// change, so one added by a thief of a fresh session must not go
// unseen); and, when it is the account's first second factor
// (lockFactors: decided in the transaction, so of two added at once one
// is), user.mfa_enabled is emitted (method webauthn), as confirming a
// first authenticator app does, since the account's password logins now
// ask for a second factor, and the account's other sessions end
// (endPasswordOnlySessions).
func (s *Service) PasskeyAdded(ctx context.Context, c Caller, add func(tx Stores) error) error {
	return s.atomic(ctx, func(tx Stores) error {
		had, err := s.lockFactors(ctx, tx, c.User.ID)
		if err != nil {
			return err
		}
		if err := s.endPasswordOnlySessions(ctx, tx, c, had); err != nil {
			return err
		}
		if err := add(tx); err != nil {
			return err
		}
		if !had {
			if err := s.emit(ctx, tx, event.UserMFAEnabled, c.User.ID, event.MFAData{Method: MethodWebAuthn}); err != nil {
				return err
			}
		}
		return s.notifyMFA(ctx, tx, c.User, MailPasskeyAdded)
	})
}

// endPasswordOnlySessions ends, in tx, every session of c's account but
// c's own when c is adding the account's first second factor (had is
// false), as a password change does (endOthers: session.revoked for each).
// Those sessions were opened with the password alone, since the account
// had no factor to ask for: left alive, one that a thief opened with the
// password before the owner turned a factor on would prove the password
// again and regenerate the recovery codes (a way past the factor), remove
// the factor or add its own. c's session stays: it is the one that
// turned the factor on. Call it before the change writes its events.
func (s *Service) endPasswordOnlySessions(ctx context.Context, tx Stores, c Caller, had bool) error {
	if had {
		return nil
	}
	return s.endOthers(ctx, tx, c.User.ID, c.Session.ID, s.now())
}

// SecondFactorRemoved runs remove, another package's removal of one of
// c's factors of method (a passkey, with its audit event), and in the
// same transaction does what removing a factor does beyond the removal
// itself, as RemoveTOTP does: a login waiting for its second step ends;
// with no factor left (lockFactors: decided in the transaction, so that
// of the last two removed at once one finds none left) the recovery
// codes go too (none would ask for them until the next factor brought
// them back to life) and user.mfa_disabled is emitted; the account's
// notice address is told.
func (s *Service) SecondFactorRemoved(ctx context.Context, c Caller, method string, remove func(tx Stores) error) error {
	return s.atomic(ctx, func(tx Stores) error {
		if _, err := s.lockFactors(ctx, tx, c.User.ID); err != nil {
			return err
		}
		if err := s.endPendingLogins(ctx, tx, c.User.ID, s.now()); err != nil {
			return err
		}
		if err := remove(tx); err != nil {
			return err
		}
		left, err := s.hasFactor(ctx, tx, c.User.ID)
		if err != nil {
			return err
		}
		if !left {
			if tx.Factors != nil {
				if err := tx.Factors.SetRecoveryCodes(ctx, c.User.ID, nil, s.now()); err != nil {
					return err
				}
			}
			if err := s.emit(ctx, tx, event.UserMFADisabled, c.User.ID, event.MFAData{Method: method}); err != nil {
				return err
			}
		}
		return s.notifyMFA(ctx, tx, c.User, MailMFARemoved)
	})
}

// lockFactors locks the account id in tx, the transaction of a change of
// its second factors, and reports whether it has a confirmed one
// (hasFactor) as of then. The lock is the account's row, read in tx
// (Users.ByID, which in a transaction on PostgreSQL locks the row until
// it ends; SQLite's transactions, and the fake's, never overlap): the
// factor changes of one account run one after the other, each seeing
// what the one before committed, so that whether a change adds the first
// factor (user.mfa_enabled) or removes the last (user.mfa_disabled) is
// decided once however many race.
func (s *Service) lockFactors(ctx context.Context, tx Stores, id uuid.UUID) (bool, error) {
	if _, err := tx.Users.ByID(ctx, id); err != nil {
		return false, err
	}
	return s.hasFactor(ctx, tx, id)
}

// hasFactor reports whether id has a confirmed second factor of any kind,
// read in tx.
func (s *Service) hasFactor(ctx context.Context, tx Stores, id uuid.UUID) (bool, error) {
	if on, err := totpConfirmed(ctx, tx, id); err != nil || on {
		return on, err
	}
	for _, m := range s.mfa.More {
		ok, err := m.EnrolledIn(ctx, tx, id)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// totpConfirmed reports whether id has a confirmed TOTP factor, read in
// tx.
func totpConfirmed(ctx context.Context, tx Stores, id uuid.UUID) (bool, error) {
	if tx.Factors == nil {
		return false, nil
	}
	f, err := tx.Factors.TOTP(ctx, id)
	if errors.Is(err, ErrFactorNotFound) {
		return false, nil
	}
	return err == nil && f.Confirmed(), err
}

// RegenerateRecoveryCodes replaces c's recovery codes by a new set, shown
// this once. It needs a recent authentication and a confirmed factor. The
// account's notice address is told: the set its owner wrote down stops
// working, and the new one is a way past the other factors.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c Caller) ([]string, error) {
	if err := s.recentlyAuthenticated(ctx, c, ""); err != nil {
		return nil, err
	}
	methods, err := s.loginMethods(ctx, c.User.ID)
	if err != nil {
		return nil, err
	}
	if len(methods) == 0 {
		return nil, ErrFactorNotFound
	}
	codes, hashes, err := s.newRecoveryCodes(c.User.ID)
	if err != nil {
		return nil, err
	}
	e := s.event(ctx, AuditMFARecoveryCodesNew, c.User.ID, c.User.ID, nil)
	err = s.atomically(ctx, e, func(tx Stores) error {
		if err := tx.Factors.SetRecoveryCodes(ctx, c.User.ID, hashes, s.now()); err != nil {
			return err
		}
		return s.notifyMFA(ctx, tx, c.User, MailRecoveryCodesGenerated)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// MFAStatus returns what second factors the account id has.
func (s *Service) MFAStatus(ctx context.Context, id uuid.UUID) (MFAStatus, error) {
	st := MFAStatus{TOTP: TOTPNone, Methods: []string{}}
	if s.stores.Factors == nil {
		return st, nil
	}
	f, err := s.stores.Factors.TOTP(ctx, id)
	switch {
	case errors.Is(err, ErrFactorNotFound):
	case err != nil:
		return MFAStatus{}, err
	case f.Confirmed():
		st.TOTP = TOTPEnabled
	default:
		st.TOTP = TOTPPending
	}
	if st.RecoveryCodes, err = s.stores.Factors.RecoveryCodes(ctx, id); err != nil {
		return MFAStatus{}, err
	}
	if st.Methods, err = s.loginMethods(ctx, id); err != nil {
		return MFAStatus{}, err
	}
	return st, nil
}

// IsPendingTOTP reports whether secret is that of the account id's
// authenticator being set up (enrolled, not confirmed): a page that held
// the secret of an earlier set-up, replaced since by a newer one from
// another window or device, must not show it, as no app that scans it
// could ever be turned on.
func (s *Service) IsPendingTOTP(ctx context.Context, id uuid.UUID, secret string) (bool, error) {
	if !s.mfaOn() {
		return false, nil
	}
	f, err := s.stores.Factors.TOTP(ctx, id)
	if errors.Is(err, ErrFactorNotFound) || (err == nil && f.Confirmed()) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sealer, err := s.sealer()
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrMFAUnavailable, err)
	}
	pending, err := sealer.Open(f.Secret, totpAD(f.UserID))
	if err != nil {
		return false, fmt.Errorf("open TOTP secret: %w", err)
	}
	return subtle.ConstantTimeCompare(pending, []byte(secret)) == 1, nil
}

// AdminResetMFA removes every second factor of the user id (TOTP,
// recovery codes, the factors of other kinds), for the administrator
// c: the way back in for someone who lost them all. It needs c's recent
// authentication (mayControl). A login of the user waiting for its
// second step ends. It is one transaction with its audit event (the
// factors of other kinds included) and, when the user had a factor
// (lockFactors), user.mfa_disabled; the user is told by mail.
func (s *Service) AdminResetMFA(ctx context.Context, c Caller, id uuid.UUID) error {
	u, err := s.controlled(ctx, c, id)
	if err != nil {
		return err
	}
	e := s.event(ctx, AuditMFAReset, c.User.ID, id, nil)
	return s.atomically(ctx, e, func(tx Stores) error {
		had, err := s.lockFactors(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.endPendingLogins(ctx, tx, id, s.now()); err != nil {
			return err
		}
		for _, m := range s.mfa.More {
			if err := m.Reset(ctx, tx, id); err != nil {
				return fmt.Errorf("reset %s factors: %w", m.Method(), err)
			}
		}
		if tx.Factors != nil {
			if _, err := tx.Factors.DeleteAll(ctx, id); err != nil {
				return err
			}
		}
		if had {
			if err := s.emit(ctx, tx, event.UserMFADisabled, id, event.MFAData{Method: "all"}); err != nil {
				return err
			}
		}
		return s.notifyMFA(ctx, tx, u, MailMFARemoved)
	})
}

// notifyMFA queues, in tx, the notice of kind about u's second factors to
// its notice address.
func (s *Service) notifyMFA(ctx context.Context, tx Stores, u User, kind MailKind) error {
	if !s.mails() {
		return nil
	}
	return s.queueMail(ctx, tx, Mail{Kind: kind, To: noticeAddress(u), UserID: u.ID})
}

// loginMethods are the second-factor methods a login of id is asked for:
// none when it has no confirmed factor.
func (s *Service) loginMethods(ctx context.Context, id uuid.UUID) ([]string, error) {
	return s.loginMethodsIn(ctx, nil, id)
}

// loginMethodsIn is loginMethods read in tx, a transaction's Stores (nil:
// outside one).
func (s *Service) loginMethodsIn(ctx context.Context, tx *Stores, id uuid.UUID) ([]string, error) {
	methods := []string{}
	factors := s.stores.Factors
	if tx != nil {
		factors = tx.Factors
	}
	if factors != nil {
		f, err := factors.TOTP(ctx, id)
		if err != nil && !errors.Is(err, ErrFactorNotFound) {
			return nil, err
		}
		if err == nil && f.Confirmed() {
			methods = append(methods, MethodOTP)
		}
	}
	for _, m := range s.mfa.More {
		var ok bool
		var err error
		if tx != nil {
			ok, err = m.EnrolledIn(ctx, *tx, id)
		} else {
			ok, err = m.Enrolled(ctx, id)
		}
		if err != nil {
			return nil, fmt.Errorf("%s factors: %w", m.Method(), err)
		}
		if ok && !slices.Contains(methods, m.Method()) {
			methods = append(methods, m.Method())
		}
	}
	if len(methods) > 0 {
		methods = append(methods, MethodRecoveryCode)
	}
	return methods, nil
}

// HasSecondFactor reports whether a login of the account id is asked for
// a second factor.
func (s *Service) HasSecondFactor(ctx context.Context, id uuid.UUID) (bool, error) {
	methods, err := s.loginMethods(ctx, id)
	return len(methods) > 0, err
}

// RequireAssurance applies the MFA policy to c on a route (admin: one of
// the administrators' routes): nil when the policy does not cover it, c
// is a service account (the policy is about people), or c's session was
// opened with a second factor; otherwise
// ErrMFAEnrolmentRequired when c's account has no second factor and
// ErrMFALoginRequired when it has one that the session did not use.
func (s *Service) RequireAssurance(ctx context.Context, c Caller, admin bool) error {
	if c.isServiceAccount() {
		// No person: it has no second factor to show, and its client's
		// secret is what it proves.
		return nil
	}
	switch s.policy.RequireMFA {
	case RequireMFAForAll:
	case RequireMFAForAdmin:
		if !admin || !c.User.IsAdmin() {
			return nil
		}
	default:
		return nil
	}
	if c.Session.Assurance().MultiFactor() {
		return nil
	}
	has, err := s.HasSecondFactor(ctx, c.User.ID)
	switch {
	case err != nil:
		return err
	case has:
		return ErrMFALoginRequired
	}
	return ErrMFAEnrolmentRequired
}

// MFAPolicy is the policy RequireAssurance applies.
func (s *Service) MFAPolicy() MFAPolicy { return s.policy.RequireMFA }

// recoveryCodeBytes is the randomness of a recovery code: 60 bits,
// twelve base32 characters.
const recoveryCodeBytes = 8

// recoveryAlphabet spells recovery codes: lower-case base32 without
// padding.
var recoveryAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCodes makes a set of recovery codes for id ("xxxx-xxxx-xxxx")
// and what the store keeps of them.
func (s *Service) newRecoveryCodes(id uuid.UUID) (codes []string, hashes [][]byte, err error) {
	for range RecoveryCodeCount {
		b := make([]byte, recoveryCodeBytes)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("random recovery code: %w", err)
		}
		raw := recoveryAlphabet.EncodeToString(b)[:12]
		codes = append(codes, raw[:4]+"-"+raw[4:8]+"-"+raw[8:])
		hashes = append(hashes, s.recoveryHash(id, raw))
	}
	return codes, hashes, nil
}

// recoveryHash is what the store keeps of id's recovery code: keyed with
// the service's secret, so that a copy of the database alone gives no way
// to test guesses offline. code may carry dashes, spaces and capitals.
func (s *Service) recoveryHash(id uuid.UUID, code string) []byte {
	code = strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, code)
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("usersvc recovery code\x00" + id.String() + "\x00" + code))
	return m.Sum(nil)
}
