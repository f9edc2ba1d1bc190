package usertest_test

import (
	"errors"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestMemory proves the in-memory fake behaves like the real stores, so
// tests that use it stand for them.
func TestMemory(t *testing.T) {
	usertest.Run(t, func(*testing.T) user.Repository { return usertest.NewMemory() })
}

// TestMemoryHooks checks what only the fake offers: failing on demand,
// deactivating a user, a callback after ByID, and its size.
func TestMemoryHooks(t *testing.T) {
	m := usertest.NewMemory()
	u, err := m.Create(t.Context(), usertest.NewUser(1))
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len after one Create = %d, want 1", n)
	}

	m.SetActive(u.ID, false)
	if got, err := m.ByID(t.Context(), u.ID); err != nil || got.IsActive {
		t.Errorf("ByID after SetActive(false): active %v, error %v; want false, nil", got.IsActive, err)
	}

	var seen []user.User
	m.SetAfterByID(func(u user.User) { seen = append(seen, u) })
	if _, err := m.ByID(t.Context(), u.ID); err != nil || len(seen) != 1 || seen[0].ID != u.ID {
		t.Errorf("ByID with a callback: error %v, callback saw %v; want nil, the user once", err, seen)
	}

	down := errors.New("down")
	m.SetFail(down)
	if err := m.Ping(t.Context()); !errors.Is(err, down) {
		t.Errorf("Ping after SetFail: got error %v, want %v", err, down)
	}
	if _, err := m.ByID(t.Context(), u.ID); !errors.Is(err, down) {
		t.Errorf("ByID after SetFail: got error %v, want %v", err, down)
	}
	m.SetFail(nil)
	if err := m.Ping(t.Context()); err != nil {
		t.Errorf("Ping after SetFail(nil): got error %v, want nil", err)
	}
}
