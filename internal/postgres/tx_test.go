package postgres_test

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
// succeeds, and the store goes on. Rolled back on a context of its own,
// a failed transaction's connection goes back to the pool usable.
func TestAtomicCallerGone(t *testing.T) {
	db := storetest.Postgres(t)
	s := db.Stores()
	for _, tt := range []struct {
		name  string
		fnErr error
	}{
		{"fn fails", errors.New("fn failed")},
		{"fn succeeds", nil}, // the commit fails, and pgx closes the connection
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			u := usertest.NewUser(1)
			if err := db.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			conns := db.Pool().Stat().TotalConns()
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
			if stat := db.Pool().Stat(); tt.fnErr != nil && (stat.AcquiredConns() != 0 || stat.TotalConns() != conns) {
				t.Errorf("pool after the rollback: %d connections in use, %d in all; want none in use, the %d of before kept",
					stat.AcquiredConns(), stat.TotalConns(), conns)
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
