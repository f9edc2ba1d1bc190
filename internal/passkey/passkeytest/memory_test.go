package passkeytest

import (
	"testing"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) Fixture {
		return Fixture{Stores: NewMemory().Stores(), Users: usertest.NewMemory().Stores().Users}
	})
}
