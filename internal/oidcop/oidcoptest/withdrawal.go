package oidcoptest

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
)

// RunWithdrawalIn checks, on one database, that Stores.In puts a consent
// taken back in the accounts' transaction: rolled back with it, it
// leaves the consent and the grant as they were; committed, both end.
// accounts and st must be over the same database, and st.In set.
func RunWithdrawalIn(t *testing.T, st oidcop.Stores, accounts user.Stores) {
	ctx := t.Context()
	id := uuid.Must(uuid.NewV7())
	if _, err := accounts.Users.Create(ctx, user.User{ID: id, Email: "ada@example.com", Username: "ada", PasswordHash: "x"}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	g := NewGrant(1)
	g.UserID, g.ClientID = id, "client-1"
	if err := st.Grants.SaveGrant(ctx, g); err != nil {
		t.Fatalf("SaveGrant: %v", err)
	}
	if err := st.Consents.SaveConsent(ctx, oidcop.Consent{UserID: id, ClientID: "client-1", Scopes: []string{"openid"}, UpdatedAt: base}); err != nil {
		t.Fatalf("SaveConsent: %v", err)
	}
	withdraw := func(tx user.Stores) error {
		w, err := st.In(tx)
		if err != nil {
			return err
		}
		if err := w.RevokeGrantsOf(ctx, id, "client-1", base); err != nil {
			return err
		}
		return w.DeleteConsent(ctx, id, "client-1")
	}
	undone := errors.New("undone")
	if err := accounts.Tx.Atomic(ctx, func(tx user.Stores) error { return errors.Join(withdraw(tx), undone) }); !errors.Is(err, undone) {
		t.Fatalf("Atomic: %v, want the function's error", err)
	}
	if _, err := st.Consents.Consent(ctx, id, "client-1"); err != nil {
		t.Errorf("the consent after a withdrawal rolled back: %v, want it kept", err)
	}
	if got, err := st.Grants.Grant(ctx, g.ID); err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("the grant after a withdrawal rolled back: %+v, %v; want it live", got, err)
	}
	if err := accounts.Tx.Atomic(ctx, withdraw); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	if _, err := st.Consents.Consent(ctx, id, "client-1"); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("the consent after the withdrawal: %v, want ErrNotFound", err)
	}
	if got, err := st.Grants.Grant(ctx, g.ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("the grant after the withdrawal: %+v, %v; want it revoked", got, err)
	}
	if err := accounts.Tx.Atomic(ctx, withdraw); !errors.Is(err, oidcop.ErrNotFound) {
		t.Errorf("withdrawing again: %v, want ErrNotFound", err)
	}
}
