package user

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrReauthenticationRequired is a sensitive change (the email, deleting
// the account) by a session whose password login is not recent: its
// holder must give the password again, since a stolen access token alone
// must not be enough.
var ErrReauthenticationRequired = errors.New("this change needs your password again: send current_password, or POST /reauthenticate first")

// recentlyAuthenticated allows a sensitive change by c when c's session
// proved the password within the re-authentication window, or when
// currentPassword is c's password: the inline form of Reauthenticate,
// which renews the session's authentication and is recorded as it is
// (session.reauthenticated; a wrong one, login.failed).
// ErrReauthenticationRequired otherwise; a wrong currentPassword is
// ErrWrongPassword and counts against the account like a failed login.
func (s *Service) recentlyAuthenticated(ctx context.Context, c Caller, currentPassword string) error {
	if currentPassword != "" {
		return s.Reauthenticate(ctx, c, currentPassword)
	}
	at := c.Session.AuthenticatedAt
	if at.IsZero() || s.now().Sub(at) > s.policy.ReauthWindow {
		return ErrReauthenticationRequired
	}
	return nil
}

// Reauthenticate renews the authentication time of c's session once
// password is c's password, so that sensitive changes are allowed for the
// re-authentication window: POST /reauthenticate, and a current_password
// sent with a sensitive change instead (recentlyAuthenticated). A wrong
// password is ErrWrongPassword and counts against the account like a
// failed login, is limited and recorded like one (sessionGuarded). The
// renewal and its audit event (session.reauthenticated) are one
// transaction: the window of sensitive changes never opens unrecorded.
func (s *Service) Reauthenticate(ctx context.Context, c Caller, password string) error {
	u, err := s.users.ByID(ctx, c.User.ID)
	if err != nil {
		return self(err)
	}
	err = s.sessionGuarded(ctx, c, u, password, func() error {
		release, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
		if !s.hasher.Verify(u.PasswordHash, password) {
			return ErrWrongPassword
		}
		return nil
	})
	if err != nil {
		return err
	}
	e := s.event(ctx, AuditReauthenticated, c.User.ID, c.User.ID, map[string]string{"session_id": c.Session.ID.String()})
	return self(s.atomically(ctx, e, func(tx Stores) error {
		return tx.Sessions.Reauthenticated(ctx, u.ID, c.Session.ID, s.now())
	}))
}

// sessionGuarded runs check, a proof of u's password made in a request of
// c's session, under the login guard counted for that session alone: a
// wrong password (check's ErrWrongPassword) counts as a failed login, so
// that a thief of the session guessing the password is locked out as a
// guesser at the login is, and locks out nobody but themself; and it is
// recorded as one (sessionProofFailed).
func (s *Service) sessionGuarded(ctx context.Context, c Caller, u User, password string, check func() error) error {
	attempt := LoginAttempt{Key: accountKey(u, true, ""), Device: "session:" + c.Session.ID.String()}
	attempt.Fingerprint = s.fingerprint(attempt.Device, password)
	if s.guard != nil {
		if err := s.guard.Admit(ctx, attempt); err != nil {
			return err
		}
	}
	err := check()
	switch {
	case errors.Is(err, ErrWrongPassword):
		if s.guard != nil {
			s.guard.Failed(ctx, attempt)
		}
		return s.sessionProofFailed(ctx, c)
	case err == nil && s.guard != nil:
		s.guard.Succeeded(ctx, attempt)
	}
	return err
}

// sessionProofFailed records a wrong password given in a request of c's
// session (to re-authenticate, inline or not, or to change the password)
// as the failed login it counts as: login.failed, reason wrong_password,
// with the session, by an unknown actor (whoever holds the session);
// ErrWrongPassword, or the error of an event that could not be stored.
func (s *Service) sessionProofFailed(ctx context.Context, c Caller) error {
	detail := map[string]string{"reason": reasonWrongPassword, "session_id": c.Session.ID.String()}
	if err := s.appendEvent(ctx, s.stores, false, s.event(ctx, AuditLoginFailed, uuid.Nil, c.User.ID, detail)); err != nil {
		return err
	}
	return ErrWrongPassword
}

// emailChanged, inside the transaction tx of an email change from
// before's address to after's, uses up every reset link (mailed for the
// old address and its password) and stores the change with a new undo
// link, queueing the notice to the previous address and the
// user.email_changed event.
func (s *Service) emailChanged(ctx context.Context, tx Stores, before, after User) error {
	now := s.now()
	if err := s.unheld(ctx, tx, after); err != nil {
		return err
	}
	if err := tx.AccountTokens.UseAll(ctx, before.ID, PurposeResetPassword, now); err != nil {
		return err
	}
	if err := s.emailMoved(ctx, tx, after, before.Email); err != nil {
		return err
	}
	token, hash, err := newSecret()
	if err != nil {
		return err
	}
	ttl := s.policy.Lifecycle.UndoTTL
	c := EmailChange{Hash: hash, UserID: before.ID, OldEmail: before.Email, NewEmail: after.Email, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := tx.EmailChanges.Create(ctx, c); err != nil {
		return err
	}
	return s.queueMail(ctx, tx, Mail{Kind: MailEmailChanged, To: before.Email, UserID: before.ID, Token: token, TTL: ttl})
}

// unheld is ErrEmailTaken when, within tx, u's email is an address another
// account changed away from and may still get back with its undo link:
// whoever took the address (registering it, or moving an account to it)
// would otherwise make that undo fail and keep the account they changed.
// It runs after u's row is written, so that, on PostgreSQL, a concurrent
// change away from the address has committed (the unique index made the
// write wait for it) and is seen.
func (s *Service) unheld(ctx context.Context, tx Stores, u User) error {
	held, err := tx.EmailChanges.Held(ctx, u.Email, u.ID, s.now())
	if err != nil {
		return err
	}
	if held {
		return ErrEmailTaken
	}
	return nil
}

// UndoEmailChange uses the token of the link an email change mailed to
// the previous address: in one transaction the account gets that address
// back (verified: the link reached it, and trusted), every session ends,
// and every outstanding link of the account (reset, verification, the
// undo links of later changes) is used up. The undo links of earlier
// changes stay: they go to addresses the account had before this one, and
// whoever moved the email on twice must not end, with the link the second
// change mailed to their first address, the owner's link. An unknown, used
// or expired token is ErrInvalidToken.
func (s *Service) UndoEmailChange(ctx context.Context, token string) error {
	hash, ok := secretHash(token)
	if !ok {
		return ErrInvalidToken
	}
	now := s.now()
	return s.atomic(ctx, func(tx Stores) error {
		c, err := tx.EmailChanges.Use(ctx, hash, now)
		if err != nil {
			return err
		}
		u, err := tx.Users.Update(ctx, c.UserID, Patch{Email: &c.OldEmail, EmailVerified: new(true)})
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return ErrInvalidToken
			}
			return err
		}
		// Before any event: endEverything may wait for a second step
		// finishing, which numbers an event of the account (endPendingLogins).
		if err := s.endEverything(ctx, tx, c, now); err != nil {
			return err
		}
		if err := s.emailMoved(ctx, tx, u, c.NewEmail); err != nil {
			return err
		}
		e := s.event(ctx, AuditEmailChangeUndone, uuid.Nil, c.UserID, map[string]string{"fields": "email"})
		return s.appendEvent(ctx, tx, true, e)
	})
}

// endEverything ends, within tx, every session of the account of c, a
// change being undone (and says so: session.revoked), and uses up every
// link it has outstanding but the undo links of the changes made before c.
func (s *Service) endEverything(ctx context.Context, tx Stores, c EmailChange, now time.Time) error {
	id := c.UserID
	if err := tx.EmailChanges.UseAfter(ctx, id, c.CreatedAt, now); err != nil {
		return err
	}
	if err := tx.AccountTokens.UseAll(ctx, id, "", now); err != nil {
		return err
	}
	if err := s.endSessions(ctx, tx, id, uuid.Nil, now); err != nil {
		return err
	}
	return s.allEnded(ctx, tx, id)
}
