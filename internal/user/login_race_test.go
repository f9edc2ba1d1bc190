package user_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// meanwhileHasher runs then once, right after the first password it
// verifies: between a login's check of the password and its session.
type meanwhileHasher struct {
	user.Hasher
	once sync.Once
	then func()
}

func (h *meanwhileHasher) Verify(hash, password string) bool {
	ok := h.Hasher.Verify(hash, password)
	h.once.Do(h.then)
	return ok
}

// TestALoginRefusedWhenTheAccountChangedMeanwhile: a login whose account
// had its password set, was deactivated or deleted after the login
// checked the password opens no session (the change ended the sessions
// it saw, not this one), and a store failing then is the login's error.
func TestALoginRefusedWhenTheAccountChangedMeanwhile(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(f fixture, id uuid.UUID) error
		want   error
	}{
		{"password set", func(f fixture, id uuid.UUID) error {
			return f.stores.Users.SetPassword(context.Background(), id, "another hash")
		}, user.ErrInvalidCredentials},
		{"deactivated", func(f fixture, id uuid.UUID) error { f.mem.SetActive(id, false); return nil }, user.ErrInvalidCredentials},
		{"deleted", func(f fixture, id uuid.UUID) error {
			return f.stores.Users.Delete(context.Background(), id)
		}, user.ErrInvalidCredentials},
		{"store down", func(f fixture, _ uuid.UUID) error { f.mem.SetFail(errDown); return nil }, errDown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.register(t, ada)
			var changed error
			deps := f.deps()
			deps.Hasher = &meanwhileHasher{Hasher: f.hasher, then: func() { changed = tt.change(f, u.ID) }}
			svc := user.NewService(deps, user.Policy{})
			_, err := svc.Login(t.Context(), "ada", ada.Password, "")
			if changed != nil {
				t.Fatalf("the change: %v", changed)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Login: got error %v, want %v", err, tt.want)
			}
			f.mem.SetFail(nil)
			sessions, err := f.stores.Sessions.Active(t.Context(), u.ID, time.Now(), user.SessionPage{})
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != 0 {
				t.Errorf("the login left %d live sessions, want none", len(sessions))
			}
		})
	}
}
