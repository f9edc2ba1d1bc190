package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/storetest/migrationtest"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// failingMigration adds a column and a table, then fails: the transaction
// goose runs it in must take the first two back.
const failingMigration = `-- +goose Up
ALTER TABLE users ADD COLUMN half_way TEXT;
CREATE TABLE half_way (id INT);
SELECT 1 / 0;

-- +goose Down
`

func TestFailedMigrationRollsBackWhole(t *testing.T) {
	s := storetest.Postgres(t)
	p, err := postgres.NewMigrator(stdlib.OpenDBFromPool(s.Pool()),
		migrationtest.WithMigration(t, os.DirFS("."), "migrations", "00099_fails_half_way.sql", failingMigration))
	if err != nil {
		t.Fatalf("NewMigrator: %v", err)
	}
	defer p.Close()
	migrationtest.CheckFailedMigration(t, p, s.Stores(), func(t *testing.T) int {
		var n int
		const q = `SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'half_way')
			+ (SELECT count(*) FROM pg_class WHERE relname = 'half_way')`
		if err := s.Pool().QueryRow(t.Context(), q).Scan(&n); err != nil {
			t.Fatalf("look for leftovers: %v", err)
		}
		return n
	})
}

// TestConcurrentMigrators starts several migrators, each with its own
// pool, on one empty database at once, as replicas started together do:
// each must succeed, and the schema be whole.
func TestConcurrentMigrators(t *testing.T) {
	url := storetest.PostgresURL(t)
	emptyDatabase(t, url)
	const replicas = 8
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() { errs[i] = openAndMigrate(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.Stores().Users.Create(t.Context(), usertest.NewUser(1)); err != nil {
		t.Errorf("Create after the concurrent migrations: %v", err)
	}
}

// emptyDatabase takes the database at url down to no migration at all.
func emptyDatabase(t *testing.T, url string) {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	p, err := s.Migrator()
	if err != nil {
		t.Fatalf("Migrator: %v", err)
	}
	defer p.Close()
	if _, err := p.DownTo(t.Context(), 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	if _, err := s.Pool().Exec(t.Context(), `DROP TABLE goose_db_version`); err != nil {
		t.Fatalf("drop the version table: %v", err)
	}
}

// openAndMigrate opens the database at url and applies every migration.
func openAndMigrate(ctx context.Context, url string) error {
	s, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := s.Migrator()
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.Up(ctx)
	return err
}

// TestMigrationLock: the lock is one session's at a time, released only
// by its holder; a session that finds it held tries again, every poll,
// until the wait's bound ends the wait with an error that says why. Its
// clock is the test's (a wait of 100 ms of real time failed the test
// whenever a query took longer on a loaded machine).
func TestMigrationLock(t *testing.T) {
	s := storetest.Postgres(t)
	db := stdlib.OpenDBFromPool(s.Pool())
	defer db.Close()
	ctx := t.Context()
	conn := func() *sql.Conn {
		t.Helper()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	holder, other := conn(), conn()
	clock := postgres.NewLockClock()
	l := postgres.MigrationLock(clock)

	if err := l.SessionLock(ctx, holder); err != nil {
		t.Fatalf("SessionLock: %v", err)
	}
	if err := l.SessionUnlock(ctx, other); err == nil {
		t.Error("SessionUnlock by a session without the lock: got nil error, want one")
	}
	// A wait that ends its connection (pgx cancels a query in flight).
	waited := make(chan error, 1)
	go func() { waited <- l.SessionLock(ctx, conn()) }()
	for range 2 { // it found the lock held, twice, and waits to try again
		if err := clock.Tick(ctx); err != nil {
			t.Fatalf("the waiting SessionLock never asked to try again: %v", err)
		}
	}
	clock.Expire()
	err := <-waited
	if err == nil || !strings.Contains(err.Error(), "another process may be migrating") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SessionLock while another session holds it, its wait over: got error %v, want one saying another process may be migrating", err)
	}
	if err := l.SessionUnlock(ctx, holder); err != nil {
		t.Fatalf("SessionUnlock: %v", err)
	}
	// The waiter's last try may still run at the server after its client
	// gave up (on a busy server it can take the lock there for a moment,
	// until its backend sees the connection gone): other is offered tries
	// until it has the lock, as the real clock would every 100 ms. It
	// hung here, never offered a second try, when the server was busy.
	got := make(chan error, 1)
	go func() { got <- l.SessionLock(ctx, other) }()
	offering, stopOffering := context.WithCancel(ctx)
	go func() {
		for offering.Err() == nil {
			_ = clock.Tick(offering)
		}
	}()
	err = <-got
	stopOffering()
	if err != nil {
		t.Errorf("SessionLock once released: %v", err)
	}
	if err := l.SessionUnlock(ctx, other); err != nil {
		t.Errorf("SessionUnlock: %v", err)
	}
	closed := conn()
	_ = closed.Close()
	if err := l.SessionUnlock(ctx, closed); !errors.Is(err, sql.ErrConnDone) {
		t.Errorf("SessionUnlock on a closed connection: got error %v, want sql.ErrConnDone", err)
	}
}

// TestHasMigrationTable: a migrated database has the version table; one
// without it (as createdb leaves one) has none, and asking leaves it
// without one (goose's own queries would make it).
func TestHasMigrationTable(t *testing.T) {
	url := storetest.PostgresURL(t)
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if has, err := s.HasMigrationTable(t.Context()); err != nil || !has {
		t.Fatalf("HasMigrationTable on a migrated database = %v, %v; want true", has, err)
	}
	emptyDatabase(t, url)
	for range 2 { // the second answer shows the first wrote nothing
		if has, err := s.HasMigrationTable(t.Context()); err != nil || has {
			t.Fatalf("HasMigrationTable without the version table = %v, %v; want false", has, err)
		}
	}
}
