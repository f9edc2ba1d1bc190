package postgres_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/oidcop/oidcoptest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestOIDC(t *testing.T) {
	oidcoptest.Run(t, func(t *testing.T) oidcop.Stores { return storetest.Postgres(t).OIDC() })
}

// TestDeletingAUserEndsItsProviderState: an account's consents and grants
// go with it (found by a review: they stayed for ever).
func TestDeletingAUserEndsItsProviderState(t *testing.T) {
	db := storetest.Postgres(t)
	oidcoptest.RunUserDeletion(t, db.OIDC(), db.Stores().Users)
}

// TestConsentWithdrawalInTheAccountsTransaction: a consent taken back
// commits with its audit event, or not at all.
func TestConsentWithdrawalInTheAccountsTransaction(t *testing.T) {
	db := storetest.Postgres(t)
	oidcoptest.RunWithdrawalIn(t, db.OIDC(), db.Stores())
}
