package usertest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestMemory proves the in-memory fake behaves like the real stores, so
// tests that use it stand for them.
func TestMemory(t *testing.T) {
	usertest.Run(t, func(*testing.T) user.Stores { return usertest.NewMemory().Stores() })
}

// TestMemoryHooks checks what only the fake offers: failing on demand,
// deactivating a user, a callback after ByID and UserSession, and its
// size.
func TestMemoryHooks(t *testing.T) {
	m := usertest.NewMemory()
	s := m.Stores()
	u, err := s.Users.Create(t.Context(), usertest.NewUser(1))
	if err != nil {
		t.Fatal(err)
	}
	sess, rt := usertest.NewSession(u.ID, time.Now())
	if err := s.Sessions.Create(t.Context(), sess, rt); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len after one Create = %d, want 1", n)
	}

	m.SetActive(u.ID, false)
	if got, err := s.Users.ByID(t.Context(), u.ID); err != nil || got.IsActive {
		t.Errorf("ByID after SetActive(false): active %v, error %v; want false, nil", got.IsActive, err)
	}

	var seen []user.User
	m.SetAfterByID(func(u user.User) { seen = append(seen, u) })
	if _, err := s.Users.ByID(t.Context(), u.ID); err != nil || len(seen) != 1 || seen[0].ID != u.ID {
		t.Errorf("ByID with a callback: error %v, callback saw %v; want nil, the user once", err, seen)
	}
	if _, _, err := s.Sessions.UserSession(t.Context(), u.ID, sess.ID); err != nil || len(seen) != 2 || seen[1].ID != u.ID {
		t.Errorf("UserSession with a callback: error %v, callback saw %v; want nil, the user again", err, seen)
	}

	down := errors.New("down")
	m.SetFail(down)
	if err := m.Ping(t.Context()); !errors.Is(err, down) {
		t.Errorf("Ping after SetFail: got error %v, want %v", err, down)
	}
	usertest.RunClosed(t, m.Stores()) // every method fails, with no business error
	if _, err := s.Users.ByID(t.Context(), u.ID); !errors.Is(err, down) {
		t.Errorf("ByID after SetFail: got error %v, want %v", err, down)
	}
	m.SetFail(nil)
	if err := m.Ping(t.Context()); err != nil {
		t.Errorf("Ping after SetFail(nil): got error %v, want nil", err)
	}
	if _, err := s.Users.ByID(t.Context(), u.ID); err != nil {
		t.Errorf("ByID after SetFail(nil): got error %v, want nil", err)
	}
}

// TestMemoryFailsMidTransaction: a database that fails while a
// transaction runs (SetFail, here from the after-ByID hook, which may call
// it inside a transaction) fails its commit, and the transaction leaves
// nothing behind.
func TestMemoryFailsMidTransaction(t *testing.T) {
	m := usertest.NewMemory()
	s := m.Stores()
	down := errors.New("down")
	u := usertest.NewUser(1)
	m.SetAfterByID(func(user.User) { m.SetFail(down) })
	err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if _, err := tx.Users.Create(t.Context(), u); err != nil {
			return err
		}
		_, err := tx.Users.ByID(t.Context(), u.ID) // fails the database after it
		return err
	})
	if !errors.Is(err, down) {
		t.Errorf("Atomic while the database fails: got error %v, want %v", err, down)
	}
	m.SetAfterByID(nil)
	m.SetFail(nil)
	if _, err := s.Users.ByID(t.Context(), u.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByID after the failed commit: got error %v, want %v", err, user.ErrNotFound)
	}
}

func TestMemoryRetention(t *testing.T) {
	usertest.RunRetention(t, func(*testing.T) (user.Stores, retention.Store) {
		m := usertest.NewMemory()
		return m.Stores(), m.Purge()
	})
}
