package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestAtomicCallerGone: a transaction whose caller's context ends before
// it commits fails and leaves nothing behind, whether fn then fails or
// succeeds, and the writer is free again for the next one.
func TestAtomicCallerGone(t *testing.T) {
	s := storetest.SQLite(t).Stores()
	for _, tt := range []struct {
		name  string
		fnErr error
	}{
		{"fn fails", errors.New("fn failed")},
		{"fn succeeds", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			u := usertest.NewUser(1)
			err := s.Tx.Atomic(ctx, func(tx user.Stores) error {
				if _, err := tx.Users.Create(ctx, u); err != nil {
					return err
				}
				cancel()
				return tt.fnErr
			})
			if err == nil || (tt.fnErr != nil && !errors.Is(err, tt.fnErr)) {
				t.Errorf("Atomic whose caller went away: got error %v, want %v or a commit failure", err, tt.fnErr)
			}
			if _, err := s.Users.ByID(t.Context(), u.ID); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("ByID after: got error %v, want %v", err, user.ErrNotFound)
			}
			if err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error { return tx.Users.Delete(t.Context(), u.ID) }); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("Atomic after: got error %v, want the rolled-back user not found", err)
			}
		})
	}
}

// TestAtomicWritesRunToTheirEnd: inside a transaction a write runs to its
// end whatever the context it is given, since an interrupted write would
// make SQLite roll back the whole transaction behind database/sql's back,
// and the statements after it would each commit at once. The transaction
// as a whole stays bound to Atomic's context (TestAtomicCallerGone).
func TestAtomicWritesRunToTheirEnd(t *testing.T) {
	s := storetest.SQLite(t).Stores()
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	u, name := usertest.NewUser(1), "Written"
	err := s.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if _, err := tx.Users.Create(gone, u); err != nil {
			return err
		}
		_, err := tx.Users.Update(gone, u.ID, user.Patch{FullName: &name})
		return err
	})
	if err != nil {
		t.Fatalf("Atomic writing with an ended context: got error %v, want nil", err)
	}
	if got, err := s.Users.ByID(t.Context(), u.ID); err != nil || got.FullName != name {
		t.Errorf("ByID after: got %q, error %v; want %q, nil", got.FullName, err, name)
	}
}
