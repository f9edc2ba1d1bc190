package usertest_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestNewUser checks that NewUser makes users the service would accept, each
// with its own id, email and username.
func TestNewUser(t *testing.T) {
	seen := map[string]int{}
	for n := range 3 {
		u := usertest.NewUser(n)
		if err := user.ValidateEmail(u.Email); err != nil {
			t.Errorf("NewUser(%d).Email = %q: %v", n, u.Email, err)
		}
		if err := user.ValidateUsername(u.Username); err != nil {
			t.Errorf("NewUser(%d).Username = %q: %v", n, u.Username, err)
		}
		if err := user.ValidateFullName(u.FullName); err != nil {
			t.Errorf("NewUser(%d).FullName = %q: %v", n, u.FullName, err)
		}
		if u.PasswordHash == "" {
			t.Errorf("NewUser(%d).PasswordHash is empty", n)
		}
		for _, key := range []string{u.ID.String(), u.Email, u.Username} {
			if prev, ok := seen[key]; ok {
				t.Errorf("NewUser(%d) and NewUser(%d) share %q", prev, n, key)
			}
			seen[key] = n
		}
	}
	if a, b := usertest.NewUser(1), usertest.NewUser(1); a.ID == b.ID {
		t.Errorf("two calls of NewUser(1) gave the same id %s, want fresh ids", a.ID)
	}
}
