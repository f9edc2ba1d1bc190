package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/storetest/migrationtest"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// failingMigration adds a column and a table, then fails: the transaction
// goose runs it in must take the first two back.
const failingMigration = `-- +goose Up
ALTER TABLE users ADD COLUMN half_way TEXT;
CREATE TABLE half_way (id INTEGER);
INSERT INTO no_such_table VALUES (1);

-- +goose Down
`

func TestFailedMigrationRollsBackWhole(t *testing.T) {
	s := openMigrated(t)
	db, err := sql.Open("sqlite", dsn(s.path, "_txlock", "immediate"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	db.SetMaxOpenConns(1)
	p, err := newMigrator(db, migrationtest.WithMigration(t, migrations, "migrations", "00099_fails_half_way.sql", failingMigration),
		s.path+migrationLockSuffix)
	if err != nil {
		t.Fatalf("newMigrator: %v", err)
	}
	defer p.Close()
	migrationtest.CheckFailedMigration(t, p, s.Stores(), func(t *testing.T) int {
		var n int
		const q = `SELECT (SELECT count(*) FROM pragma_table_info('users') WHERE name = 'half_way')
			+ (SELECT count(*) FROM sqlite_master WHERE name = 'half_way')`
		if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
			t.Fatalf("look for leftovers: %v", err)
		}
		return n
	})
}

// TestConcurrentMigrators migrates one new database file from several
// stores at once, as replicas started together do: each must succeed, and
// the schema be whole. The stores open one after the other: what is under
// test is the migrations, not the first open of a new file.
func TestConcurrentMigrators(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.db")
	const replicas = 8
	stores := make([]*DB, replicas)
	for i := range stores {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i, s := range stores {
		wg.Go(func() { errs[i] = migrateUp(t.Context(), s) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	if _, err := stores[0].Stores().Users.Create(t.Context(), usertest.NewUser(1)); err != nil {
		t.Errorf("Create after the concurrent migrations: %v", err)
	}
}

// migrateUp applies every migration to s.
func migrateUp(ctx context.Context, s *DB) error {
	p, err := s.Migrator()
	if err != nil {
		return err
	}
	defer p.Close()
	_, err = p.Up(ctx)
	return err
}

func TestFileLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.db"+migrationLockSuffix)
	first := &fileLock{path: path, wait: time.Minute, poll: time.Millisecond}
	second := &fileLock{path: path, wait: 50 * time.Millisecond, poll: time.Millisecond}
	ctx := t.Context()
	if err := first.SessionLock(ctx, nil); err != nil {
		t.Fatalf("first SessionLock: %v", err)
	}
	if err := first.SessionLock(ctx, nil); err == nil {
		t.Error("SessionLock while holding the lock: got nil error, want one")
	}
	err := second.SessionLock(ctx, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "another process may be migrating") {
		t.Errorf("SessionLock while another holds it: got error %v, want a deadline saying another process may be migrating", err)
	}
	if err := first.SessionUnlock(ctx, nil); err != nil {
		t.Fatalf("first SessionUnlock: %v", err)
	}
	if err := first.SessionUnlock(ctx, nil); err == nil {
		t.Error("SessionUnlock without the lock: got nil error, want one")
	}
	if err := second.SessionLock(ctx, nil); err != nil {
		t.Fatalf("second SessionLock once the first released it: %v", err)
	}
	if err := second.SessionUnlock(ctx, nil); err != nil {
		t.Errorf("second SessionUnlock: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the lock file: %v, want it left in place", err)
	}
}

func TestFileLockUnopenable(t *testing.T) {
	l := &fileLock{path: filepath.Join(t.TempDir(), "missing", "users.db"+migrationLockSuffix), wait: time.Second, poll: time.Millisecond}
	if err := l.SessionLock(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "lock file") {
		t.Errorf("SessionLock in a missing directory: got error %v, want one about the lock file", err)
	}
}

// TestHasMigrationTable: a new database file has no version table, and
// asking leaves it without one (goose's own queries would make it); a
// migrated one has it.
func TestHasMigrationTable(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for range 2 { // the second answer shows the first wrote nothing
		if has, err := s.HasMigrationTable(t.Context()); err != nil || has {
			t.Fatalf("HasMigrationTable on a new file = %v, %v; want false", has, err)
		}
	}
	if has, err := openMigrated(t).HasMigrationTable(t.Context()); err != nil || !has {
		t.Errorf("HasMigrationTable on a migrated file = %v, %v; want true", has, err)
	}
}
