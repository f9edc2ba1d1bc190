package passkeytest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) Fixture {
		accounts := usertest.NewMemory()
		return Fixture{Stores: NewMemory(accounts).Stores(), Users: accounts.Stores().Users, Tx: accounts.Stores().Tx}
	})
}
