package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestUserSessionWaitEndsWithItsRequest: lookups are answered in shared
// statements, so one request's lookup may wait on a statement started for
// others. While the sessions table is locked (every statement blocked in
// the database), a lookup whose context ends returns at once with an
// error instead of waiting for the others; once the lock goes, every
// lookup still waiting gets its own answer.
func TestUserSessionWaitEndsWithItsRequest(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stores := db.Stores()
	s := stores.Sessions
	u, err := stores.Users.Create(ctx, usertest.NewUser(1))
	if err != nil {
		t.Fatal(err)
	}
	sess, rt := usertest.NewSession(u.ID, time.Now())
	if err := s.Create(ctx, sess, rt); err != nil {
		t.Fatal(err)
	}

	locker, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	// More lookups than statements may run at once: some wait in the
	// database, the rest for them.
	const waiting = 8
	errs := make([]error, waiting)
	var wg sync.WaitGroup
	for i := range waiting {
		wg.Go(func() {
			got, _, err := s.UserSession(context.Background(), u.ID, sess.ID)
			if err == nil && got.ID != u.ID {
				err = errors.New("another user")
			}
			errs[i] = err
		})
	}

	gone, cancel := context.WithCancel(ctx)
	cancel() // the client went away
	if _, _, err := s.UserSession(gone, u.ID, sess.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("lookup of a gone request while the table is locked: got error %v, want %v", err, context.Canceled)
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("lookup %d after the lock: got error %v, want its user and session", i, err)
		}
	}
	if _, _, err := s.UserSession(ctx, u.ID, sess.ID); err != nil {
		t.Errorf("lookup after the others: got error %v, want nil", err)
	}
	var missing user.Session
	if _, _, err := s.UserSession(ctx, u.ID, missing.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("lookup of a missing session: got error %v, want %v", err, user.ErrNotFound)
	}
}
