package postgres_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestPasskeys(t *testing.T) {
	passkeytest.Run(t, func(t *testing.T) passkeytest.Fixture {
		db := storetest.Postgres(t)
		return passkeytest.Fixture{Stores: db.Passkeys(), Users: db.Stores().Users, Tx: db.Stores().Tx}
	})
}
