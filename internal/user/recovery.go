package user

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// RequestPasswordReset mails a reset link for the active account whose
// email is email, if there is one, to its recovery address: the email when
// it is verified, else the trusted address (recoveryAddress), and while an
// email change can be undone the address it moved away from
// (resetAddress). The link is
// bound to that address and to the password it replaces: an email change
// or a password change uses it up. It returns as soon as the address is checked
// for shape, before looking the account up: the answer, and how long it
// takes, are the same whether the account exists or not. The lookup and the
// mail run in the background (see Close); their failures are logged.
// ErrBusy when too many are already running.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	if err := ValidateEmail(email); err != nil {
		return err
	}
	if !s.jobs.start(ctx, func(ctx context.Context) { s.mailReset(ctx, email) }) {
		return ErrBusy
	}
	return nil
}

// mailReset is the background half of RequestPasswordReset. The audit log
// gets the request either way, naming the account only when it exists:
// never the address of an unknown one, which may be a stranger's
// personal data.
func (s *Service) mailReset(ctx context.Context, email string) {
	u, err := s.users.ByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		s.record(ctx, AuditResetRequested, uuid.Nil, uuid.Nil, nil)
		return
	}
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("password reset: %w", err))
		return
	}
	s.record(ctx, AuditResetRequested, uuid.Nil, u.ID, nil)
	if !u.IsActive || !s.mails() {
		return
	}
	ttl := s.policy.Lifecycle.ResetTTL
	to, err := s.resetAddress(ctx, u)
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("password reset: %w", err))
		return
	}
	err = s.atomic(ctx, func(tx Stores) error {
		token, err := s.issueAccountToken(ctx, tx, u, PurposeResetPassword, to, ttl)
		if err != nil {
			return err
		}
		return s.queueMail(ctx, tx, Mail{Kind: MailResetPassword, To: to, UserID: u.ID, Token: token, TTL: ttl})
	})
	if err != nil {
		s.mailFailed(ctx, fmt.Errorf("password reset mail: %w", err))
	}
}

// resetAddress is where a reset link for u goes: while an email change of
// u can be undone, the address the earliest such change moved away from;
// otherwise its recovery address. A change is not final while it can be
// undone: a thief of a fresh session who moved the email to an address of
// theirs and verified it would get a reset link there, set a password of
// their own and keep it past the owner's undo.
func (s *Service) resetAddress(ctx context.Context, u User) (string, error) {
	old, err := s.stores.EmailChanges.Undoable(ctx, u.ID, s.now())
	if err != nil || old == "" {
		return recoveryAddress(u), err
	}
	return old, nil
}

// ResetPassword uses a reset token to set a new password, which must meet
// the policy. In one step it makes every access token issued before
// invalid, uses up every other reset token of the user and revokes all
// their sessions and their logins waiting for a second step. It returns
// a device token of the account (devices.go): whoever used the link holds
// the recovery address, so the client they used it from signs in past a
// lockout that failures from elsewhere put on the account, as a client
// that signed in before does. An unknown, expired or used token, or one of
// an account deactivated since, is ErrInvalidToken.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (string, error) {
	if err := ValidatePassword("new_password", password); err != nil {
		return "", err
	}
	hash, ok := secretHash(token)
	if !ok {
		return "", ErrInvalidToken
	}
	t, err := s.tokens.ByHash(ctx, hash)
	if err != nil {
		return "", err
	}
	if t.Purpose != PurposeResetPassword || !t.Usable(s.now()) {
		return "", ErrInvalidToken
	}
	u, err := s.users.ByID(ctx, t.UserID)
	stale := t.TokenVersion != Unbound && t.TokenVersion != u.TokenVersion // the password changed since
	if errors.Is(err, ErrNotFound) || (err == nil && (!u.IsActive || stale)) {
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", err
	}
	pwHash, err := s.newPassword(ctx, "new_password", password, u)
	if err != nil {
		return "", err
	}
	// Checked above, but only this step is atomic: of concurrent uses of
	// one token, one gets here first and the others get ErrInvalidToken.
	e := s.event(ctx, AuditResetCompleted, u.ID, u.ID, nil)
	err = s.atomically(ctx, e, func(tx Stores) error {
		// Before the sessions the reset revokes, as endSessions does.
		if err := s.endPendingLogins(ctx, tx, u.ID, s.now()); err != nil {
			return err
		}
		if _, err := tx.AccountTokens.UseResetPassword(ctx, hash, pwHash, s.now()); err != nil {
			return err
		}
		if err := s.allEnded(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.notifyPasswordChanged(ctx, tx, u)
	})
	if err != nil {
		return "", err
	}
	return s.newDeviceToken(u.ID, s.now(), false), nil
}
