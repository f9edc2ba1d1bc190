package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The second step of a password login (the mfa_required exchange). A
// password login of an account with a second factor opens no session: it
// answers an *MFARequiredError holding an mfa_token, a random token that
// the MFAChallenges store keeps the hash of, usable once, for
// Policy.MFAChallengeTTL, by the client (client_id) that logged in, and
// only until something ends the account's sessions or removes one of its
// factors (endPendingLogins). The client then proves a factor with
// LoginWithOTP, LoginWithRecoveryCode, or another package's method
// through LoginWithSecondFactor; each wrong proof counts against the
// account as a failed login does (the same LoginGuard, so the same
// lockout), for the login's device when it proved one issued by an
// earlier second step (devices.go).

// SecondFactorCheck proves a second factor of u for LoginWithSecondFactor
// in one part or both. Each returns the amr values it proved (AMROTP,
// AMRHardwareKey...), and ErrInvalidCode when the proof is wrong (counted
// as a failed login).
type SecondFactorCheck struct {
	// Before runs before the mfa_token is claimed, outside any
	// transaction: for a proof kept where the service's stores cannot
	// reach (a passkey's ceremony, in its own package).
	Before func(ctx context.Context, u User) ([]string, error)
	// Claimed runs in the transaction that claims the mfa_token and opens
	// the session, after the claim: what it uses up through tx (a
	// recovery code, a TOTP time step) is used up only if the login
	// succeeds, and never by a second step that lost the mfa_token to
	// another one.
	Claimed func(ctx context.Context, tx Stores, u User) ([]string, error)
}

// challenge stores a new challenge of u's login from device and returns
// the *MFARequiredError that hands it out.
func (s *Service) challenge(ctx context.Context, u User, device string, methods []string) error {
	token, hash, err := newSecret()
	if err != nil {
		return err
	}
	now := s.now()
	ttl := s.policy.MFAChallengeTTL
	c := MFAChallenge{
		Hash: hash, UserID: u.ID, ClientID: clientOf(ctx).ClientID, Device: device,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.stores.MFAChallenges.Create(ctx, c); err != nil {
		return err
	}
	return &MFARequiredError{Token: token, Methods: methods, ExpiresIn: ttl}
}

// LoginWithOTP finishes the login of mfaToken with a code of the
// account's TOTP authenticator (amr otp). A code works once: one of a
// time step already used is refused as a wrong one.
func (s *Service) LoginWithOTP(ctx context.Context, mfaToken, code string) (AccessToken, error) {
	return s.LoginWithSecondFactor(ctx, mfaToken, MethodOTP, code, SecondFactorCheck{Claimed: func(ctx context.Context, tx Stores, u User) ([]string, error) {
		f, err := tx.Factors.TOTP(ctx, u.ID)
		if errors.Is(err, ErrFactorNotFound) || (err == nil && !f.Confirmed()) {
			return nil, ErrInvalidCode
		}
		if err != nil {
			return nil, err
		}
		step, err := s.matchTOTP(f, code)
		if err != nil {
			return nil, err
		}
		if err := tx.Factors.UseTOTP(ctx, f, step, s.now()); err != nil {
			if errors.Is(err, ErrCodeUsed) {
				return nil, ErrInvalidCode
			}
			return nil, err
		}
		return []string{AMROTP}, nil
	}})
}

// LoginWithRecoveryCode finishes the login of mfaToken with one of the
// account's recovery codes (amr otp), which is used up; the account's
// notice address is told.
func (s *Service) LoginWithRecoveryCode(ctx context.Context, mfaToken, code string) (AccessToken, error) {
	var left int
	t, err := s.LoginWithSecondFactor(ctx, mfaToken, MethodRecoveryCode, code, SecondFactorCheck{Claimed: func(ctx context.Context, tx Stores, u User) ([]string, error) {
		var err error
		if left, err = tx.Factors.UseRecoveryCode(ctx, u.ID, s.recoveryHash(u.ID, code), s.now()); err != nil {
			return nil, err
		}
		if err := s.notifyMFA(ctx, tx, u, MailRecoveryCodeUsed); err != nil {
			return nil, err
		}
		return []string{AMROTP}, s.appendEvent(ctx, tx, true, s.event(ctx, AuditMFARecoveryCodeUsed, u.ID, u.ID, nil))
	}})
	if err == nil {
		s.log.InfoContext(ctx, "recovery code used", "user_id", t.UserID.String(), "left", left)
	}
	return t, err
}

// LoginWithSecondFactor finishes the login of mfaToken with method (one
// of the methods its mfa_required listed): check proves the factor; proof
// is what the client sent (only a keyed hash of it is kept by the guard,
// to tell repeated attempts apart). On success the challenge is used up
// and a session opens with amr pwd, check's values and mfa (acr
// ACRMultiFactor), in one transaction that claims the challenge first:
// of two second steps of one mfa_token, one finishes the login and the
// other, with check.Claimed not run, gets ErrInvalidMFAToken. An
// unknown, used or expired mfa_token, one of another client, or an
// account no longer active is ErrInvalidMFAToken; a wrong proof is
// ErrInvalidCode, counted as a failed login (ErrLocked once the account
// is locked out), and leaves the mfa_token usable.
func (s *Service) LoginWithSecondFactor(ctx context.Context, mfaToken, method, proof string, check SecondFactorCheck) (AccessToken, error) {
	if s.stores.MFAChallenges == nil {
		return AccessToken{}, ErrInvalidMFAToken
	}
	hash, ok := secretHash(mfaToken)
	if !ok {
		return AccessToken{}, ErrInvalidMFAToken
	}
	c, err := s.stores.MFAChallenges.ByHash(ctx, hash)
	if err != nil {
		return AccessToken{}, err
	}
	now := s.now()
	if !c.UsedAt.IsZero() || !now.Before(c.ExpiresAt) || c.ClientID != clientOf(ctx).ClientID {
		return AccessToken{}, ErrInvalidMFAToken
	}
	u, err := s.users.ByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && !u.IsActive) {
		return AccessToken{}, ErrInvalidMFAToken
	}
	if err != nil {
		return AccessToken{}, err
	}
	methods, err := s.loginMethods(ctx, u.ID)
	if err != nil {
		return AccessToken{}, err
	}
	if !slices.Contains(methods, method) {
		return AccessToken{}, ErrInvalidCode
	}
	attempt := LoginAttempt{Key: accountKey(u, true, ""), Device: c.Device}
	attempt.Fingerprint = s.fingerprint(attempt.Key, method+"\x00"+proof)
	var t AccessToken
	_, err = s.guardedCode(ctx, u.ID, attempt, func() (int64, error) {
		var err error
		t, err = s.finishLogin(ctx, u, hash, now, check)
		return 0, err
	})
	if errors.Is(err, ErrInvalidCode) {
		s.tellWrongSecondStep(ctx, u, hash)
	}
	if err != nil {
		return AccessToken{}, err
	}
	if s.guard != nil {
		s.guard.Succeeded(ctx, attempt)
	}
	t.DeviceToken = s.newDeviceToken(u.ID, now, true)
	return t, nil
}

// tellWrongSecondStep tells u's notice address that the login of the
// challenge of hash got a wrong second-factor proof, the first time it
// does: whoever made it had the password. A failure is logged, not the
// caller's: the proof was wrong either way.
func (s *Service) tellWrongSecondStep(ctx context.Context, u User, hash []byte) {
	if !s.mails() {
		return
	}
	err := s.atomic(ctx, func(tx Stores) error {
		first, err := tx.MFAChallenges.MarkFailed(ctx, hash, s.now())
		if err != nil || !first {
			return err
		}
		return s.notifyMFA(ctx, tx, u, MailSecondStepFailed)
	})
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("second step notice: %w", err))
	}
}

// finishLogin is LoginWithSecondFactor once the challenge of hash is
// found usable at now for u: check.Before, then one transaction that
// claims the challenge, runs check.Claimed and opens the session.
func (s *Service) finishLogin(ctx context.Context, u User, hash []byte, now time.Time, check SecondFactorCheck) (AccessToken, error) {
	var before []string
	if check.Before != nil {
		var err error
		if before, err = check.Before(ctx, u); err != nil {
			return AccessToken{}, err
		}
	}
	return s.openSession(ctx, u, nil, func(tx Stores) (Assurance, error) {
		if err := tx.MFAChallenges.Use(ctx, hash, now); err != nil {
			return Assurance{}, err
		}
		var claimed []string
		if check.Claimed != nil {
			var err error
			if claimed, err = check.Claimed(ctx, tx, u); err != nil {
				return Assurance{}, err
			}
		}
		return Assurance{AMR: slices.Concat([]string{AMRPassword}, before, claimed, []string{AMRMFA}), ACR: ACRMultiFactor}, nil
	})
}

// endPendingLogins ends, within tx, the logins of the account id waiting
// for their second step: an mfa_token handed out before a change that
// ends the account's sessions (a new password, a log-out everywhere, a
// deactivation) or removes a factor no longer finishes a login, even
// with a right code. Call it before the change writes what a second step
// writes too (the account's sessions, factors, events: an event takes
// the account's next sequence number): a second step finishing meanwhile
// holds its challenge until it commits (LoginWithSecondFactor), so on
// PostgreSQL the change then waits for it here, holding nothing that
// second step needs, and its later statements see the session it opened.
func (s *Service) endPendingLogins(ctx context.Context, tx Stores, id uuid.UUID, now time.Time) error {
	if tx.MFAChallenges == nil {
		return nil
	}
	return tx.MFAChallenges.UseAll(ctx, id, now)
}

// ChallengeUser returns the account whose login mfaToken continues, while
// the token is usable by this client: for a method's ceremony (a passkey
// assertion's options) before LoginWithSecondFactor. ErrInvalidMFAToken
// otherwise.
func (s *Service) ChallengeUser(ctx context.Context, mfaToken string) (uuid.UUID, error) {
	if s.stores.MFAChallenges == nil {
		return uuid.Nil, ErrInvalidMFAToken
	}
	hash, ok := secretHash(mfaToken)
	if !ok {
		return uuid.Nil, ErrInvalidMFAToken
	}
	c, err := s.stores.MFAChallenges.ByHash(ctx, hash)
	if err != nil {
		return uuid.Nil, err
	}
	if !c.UsedAt.IsZero() || !s.now().Before(c.ExpiresAt) || c.ClientID != clientOf(ctx).ClientID {
		return uuid.Nil, ErrInvalidMFAToken
	}
	return c.UserID, nil
}

// ChallengeSecondFactor begins the proof of method, a ChallengedFactor
// the account of mfaToken has, for the login of mfaToken: the challenge
// its client's authenticator answers. ErrInvalidMFAToken as
// LoginWithSecondFactor; ErrFactorNotFound when the account has no
// factor of method.
func (s *Service) ChallengeSecondFactor(ctx context.Context, mfaToken, method string) (FactorChallenge, error) {
	id, err := s.ChallengeUser(ctx, mfaToken)
	if err != nil {
		return FactorChallenge{}, err
	}
	f, ok := s.challengedFactor(method)
	if !ok {
		return FactorChallenge{}, ErrFactorNotFound
	}
	has, err := f.Enrolled(ctx, id)
	if err != nil {
		return FactorChallenge{}, err
	}
	if !has {
		return FactorChallenge{}, ErrFactorNotFound
	}
	return f.Challenge(ctx, id)
}

// LoginWithChallenge finishes the login of mfaToken with response, the
// answer of the account's factor of method to the challenge handle
// (ChallengeSecondFactor): amr pwd, the factor's value and mfa. Errors as
// LoginWithSecondFactor.
func (s *Service) LoginWithChallenge(ctx context.Context, mfaToken, method, handle string, response []byte) (AccessToken, error) {
	f, ok := s.challengedFactor(method)
	if !ok {
		return AccessToken{}, ErrInvalidCode
	}
	return s.LoginWithSecondFactor(ctx, mfaToken, method, handle, SecondFactorCheck{Before: func(ctx context.Context, u User) ([]string, error) {
		amr, err := f.Prove(ctx, u.ID, handle, response)
		if err != nil {
			return nil, err
		}
		return []string{amr}, nil
	}})
}

// challengedFactor is the ChallengedFactor of method, if the service has
// one.
func (s *Service) challengedFactor(method string) (ChallengedFactor, bool) {
	for _, m := range s.mfa.More {
		if c, ok := m.(ChallengedFactor); ok && m.Method() == method {
			return c, true
		}
	}
	return nil, false
}
