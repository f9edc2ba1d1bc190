package usertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// recoveryChanges are the changes of an email change as the service makes
// them in one transaction (an email change, its undo link, the reset links
// used up) and a re-authentication of the user's session.
type recoveryChanges struct {
	u      user.User
	sess   user.Session
	reset  user.AccountToken
	change user.EmailChange
	at     time.Time
}

// newRecoveryChanges stores the user, its session and a reset token, and
// returns the changes.
func newRecoveryChanges(t *testing.T, st user.Stores) recoveryChanges {
	t.Helper()
	t0 := now()
	c := recoveryChanges{u: create(t, st.Users, NewUser(1)), at: t0.Add(time.Minute)}
	c.sess, _ = startSession(t, st.Sessions, c.u, t0)
	c.reset = storeToken(t, st.AccountTokens, c.u, user.PurposeResetPassword, t0)
	c.change = NewEmailChange(c.u, "moved@example.com", c.at)
	return c
}

// apply makes the changes through tx.
func (c recoveryChanges) apply(ctx context.Context, tx user.Stores) error {
	if _, err := tx.Users.Update(ctx, c.u.ID, user.Patch{Email: &c.change.NewEmail}); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if err := tx.AccountTokens.UseAll(ctx, c.u.ID, user.PurposeResetPassword, c.at); err != nil {
		return fmt.Errorf("use reset tokens: %w", err)
	}
	if err := tx.EmailChanges.Create(ctx, c.change); err != nil {
		return fmt.Errorf("create email change: %w", err)
	}
	if err := tx.Sessions.Reauthenticated(ctx, c.u.ID, c.sess.ID, c.at); err != nil {
		return fmt.Errorf("reauthenticate: %w", err)
	}
	return nil
}

// check fails the test unless st shows all the changes (want true) or
// none of them. It uses the change up when it is there.
func (c recoveryChanges) check(t *testing.T, st user.Stores, want bool) {
	t.Helper()
	if got := byID(t, st.Users, c.u.ID); (got.Email == c.change.NewEmail) != want || got.TrustedEmail != c.u.Email {
		t.Errorf("user: email %q, trusted %q; want the change there: %v, trusted %q", got.Email, got.TrustedEmail, want, c.u.Email)
	}
	if got := usedAt(t, st.AccountTokens, c.reset.Hash); got.Equal(c.at) != want {
		t.Errorf("reset token: used at %v, want it used at %v: %v", got, c.at, want)
	}
	if _, err := st.EmailChanges.Use(t.Context(), c.change.Hash, c.at); (err == nil) != want {
		t.Errorf("Use(the change): got error %v, want it there: %v", err, want)
	}
	if got := sessionOf(t, st.Sessions, c.u.ID, c.sess.ID); got.AuthenticatedAt.Equal(c.at) != want {
		t.Errorf("session: authenticated at %v, want %v: %v", got.AuthenticatedAt, c.at, want)
	}
}

// testTxRecovery: the ports of an email change and a re-authentication
// take part in a transaction: rolled back together, committed together.
func testTxRecovery(t *testing.T, open newStores) {
	st := open(t)
	c := newRecoveryChanges(t, st)
	err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if err := c.apply(t.Context(), tx); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Atomic of a failing fn: got error %v, want %v", err, errAbort)
	}
	c.check(t, st, false)
	if err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error { return c.apply(t.Context(), tx) }); err != nil {
		t.Fatalf("Atomic: got error %v, want nil", err)
	}
	c.check(t, st, true)
}
