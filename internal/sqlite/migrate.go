package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationLockSuffix names the lock file beside the database file (as
// SQLite names its -wal and -shm files) that serialises migrations.
const migrationLockSuffix = "-migrate.lock"

// migrationLockWait bounds the wait for another process's migrations, so
// that a hung migration elsewhere fails this one with a message instead of
// holding it forever.
const migrationLockWait = 10 * time.Minute

// migrationLockPoll is how often a waiting process tries the lock again.
const migrationLockPoll = 50 * time.Millisecond

// newMigrator returns a goose provider for the migrations in fsys, run on
// db, one process at a time: it holds an exclusive lock on lockPath while
// it migrates. Every migration runs in its own transaction unless it says
// `-- +goose NO TRANSACTION`, so one that fails half-way leaves the schema
// of the migration before it. It closes db when it fails.
func newMigrator(db *sql.DB, fsys fs.FS, lockPath string) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(&fileLock{path: lockPath, wait: migrationLockWait, poll: migrationLockPoll}))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}

// fileLock is a goose session locker on an exclusive lock of a file
// (flock(2) where there is one: lockFile). Several processes on one host
// may open one SQLite file; without it, processes started at the same
// moment all find the schema missing and each tries to create it. The
// operating system releases the lock when its holder exits, so a process
// killed while migrating never leaves it held. The file itself stays.
//
// It guards a separate file rather than the database: closing any
// descriptor of the database file would drop SQLite's own POSIX locks on it.
type fileLock struct {
	path string
	wait time.Duration // the longest wait for another holder
	poll time.Duration // how often to try again meanwhile

	mu   sync.Mutex
	held *os.File // the locked file, nil when not held
}

var _ lock.SessionLocker = (*fileLock)(nil)

// SessionLock takes the lock, waiting for another holder at most l.wait.
// The connection is not used: the lock is the process's, not the session's.
func (l *fileLock) SessionLock(ctx context.Context, _ *sql.Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != nil {
		return errors.New("migration lock: already held by this migrator")
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- beside the operator's database file
	if err != nil {
		return fmt.Errorf("open the migration lock file: %w", err)
	}
	if err := l.acquire(ctx, f); err != nil {
		_ = f.Close()
		return err
	}
	l.held = f
	return nil
}

// acquire tries to lock f until it succeeds, ctx ends or l.wait passes.
func (l *fileLock) acquire(ctx context.Context, f *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			return fmt.Errorf("lock %s: %w", l.path, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the migration lock %s (another process may be migrating this database): %w", l.path, ctx.Err())
		case <-tick.C:
		}
	}
}

// SessionUnlock releases the lock.
func (l *fileLock) SessionUnlock(context.Context, *sql.Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return errors.New("migration lock: not held")
	}
	f := l.held
	l.held = nil
	if err := errors.Join(unlockFile(f), f.Close()); err != nil {
		return fmt.Errorf("release the migration lock %s: %w", l.path, err)
	}
	return nil
}

// HasMigrationTable reports whether goose's version table exists, read
// from the schema table on a reading connection. It writes nothing:
// goose's own version queries create the table when it is missing, which
// a check of an unmigrated database must not do.
func (s *DB) HasMigrationTable(ctx context.Context) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)`
	var ok bool
	if err := s.read.QueryRowContext(ctx, q, goose.DefaultTablename).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for the migration table: %w", err)
	}
	return ok, nil
}

// AppliedMigrations returns the versions goose's version table records
// as applied (not goose's own version 0), with when each was, read on a
// reading connection: it writes nothing. Versions this binary has no file
// of (a newer release's) are there too. Call it only when
// HasMigrationTable says the table exists.
func (s *DB) AppliedMigrations(ctx context.Context) (map[int64]time.Time, error) {
	const q = `SELECT version_id, is_applied, tstamp FROM ` + goose.DefaultTablename + ` ORDER BY id`
	rows, err := s.read.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the applied migrations: %w", err)
	}
	defer func() { _ = rows.Close() }()
	applied := map[int64]time.Time{}
	for rows.Next() {
		var version int64
		var ok bool
		var at sql.NullTime
		if err := rows.Scan(&version, &ok, &at); err != nil {
			return nil, fmt.Errorf("read the applied migrations: %w", err)
		}
		switch {
		case version == 0:
		case ok:
			applied[version] = at.Time
		default: // an older goose recorded a migration undone this way
			delete(applied, version)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the applied migrations: %w", err)
	}
	return applied, nil
}
