package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationLockID is the key of the session-level advisory lock that
// serialises usersvc's migrations on one database: replicas (or `usersvc
// migrate up` tasks) started at the same moment take turns, and the ones
// after the first find nothing left to apply. Any fixed number would do; it
// only has to differ from the other advisory locks taken on the database.
const migrationLockID int64 = 0x7573657273766331 // "usersvc1"

// migrationLockWait bounds the wait for another process's migrations, so
// that a hung migration elsewhere fails this one with a message instead of
// holding it forever.
const migrationLockWait = 10 * time.Minute

// newMigrator returns a goose provider for the migrations in fsys, run on
// db, one process at a time (advisoryLock). Every migration runs in its own
// transaction unless it says `-- +goose NO TRANSACTION`, so one that fails
// half-way leaves the schema of the migration before it. It closes db when
// it fails.
func newMigrator(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(advisoryLock{id: migrationLockID, wait: migrationLockWait}))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return p, nil
}

// advisoryLock is a goose session locker on a PostgreSQL session-level
// advisory lock. A waiting process tries the lock every l.poll with
// pg_try_advisory_lock rather than waiting inside pg_advisory_lock: a
// statement waiting for the lock holds a snapshot, and CREATE INDEX
// CONCURRENTLY (migration 00012), run by the holder, waits for every
// older snapshot to end, so the holder would wait for the waiter and the
// waiter for the holder (PostgreSQL reports a deadlock). Between tries the
// waiter's connection is idle, outside any transaction. PostgreSQL
// releases the lock when the holder's connection ends, so a process killed
// while migrating never leaves it held.
type advisoryLock struct {
	id    int64
	wait  time.Duration
	poll  time.Duration // zero: migrationLockPoll
	clock lockClock     // nil: the real one
}

// lockClock is the time a waiting SessionLock reads: when its wait ends
// and when it tries again. A test's makes both happen when it says.
type lockClock interface {
	// AfterFunc calls f once d has passed, unless stop is called first.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Ticks returns a channel that receives every d, and what stops it.
	Ticks(d time.Duration) (c <-chan time.Time, stop func())
}

// realClock is the lockClock of the time package.
type realClock struct{}

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

func (realClock) Ticks(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// migrationLockPoll is how often a waiting process tries the migration
// lock again.
const migrationLockPoll = 100 * time.Millisecond

// errLockWait is the end of a wait for the migration lock that lasted
// its whole bound.
var errLockWait = fmt.Errorf("waited the bound for it: %w", context.DeadlineExceeded)

var _ lock.SessionLocker = advisoryLock{}

// SessionLock waits, at most l.wait, for the lock on conn. When the wait
// ends, so does a try in flight (pgx cancels the query, and with it the
// connection).
func (l advisoryLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	clock, poll := l.clock, l.poll
	if clock == nil {
		clock = realClock{}
	}
	if poll <= 0 {
		poll = migrationLockPoll
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := clock.AfterFunc(l.wait, func() { cancel(errLockWait) })
	defer stop()
	ticks, stopTicks := clock.Ticks(poll)
	defer stopTicks()
	for {
		var got bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.id).Scan(&got); err != nil {
			return fmt.Errorf("wait for the migration lock (another process may be migrating this database): %w", errors.Join(err, context.Cause(ctx)))
		}
		if got {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the migration lock (another process may be migrating this database): %w", context.Cause(ctx))
		case <-ticks:
		}
	}
}

// SessionUnlock releases the lock taken on conn.
func (l advisoryLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, l.id).Scan(&released); err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	if !released {
		return errors.New("release the migration lock: this session did not hold it")
	}
	return nil
}

// HasMigrationTable reports whether goose's version table exists in the
// schema the migrations use (the connection's current schema), read from
// the catalog. It writes nothing: goose's own version queries create the
// table when it is missing, which a check of an unmigrated database must
// not do.
func (s *DB) HasMigrationTable(ctx context.Context) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1)`
	var ok bool
	if err := s.pool.QueryRow(ctx, q, goose.DefaultTablename).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for the migration table: %w", err)
	}
	return ok, nil
}

// AppliedMigrations returns the versions goose's version table records
// as applied (not goose's own version 0), with when each was. It only
// reads. Versions this binary has no file of (a newer release's) are
// there too. Call it only when HasMigrationTable says the table exists.
func (s *DB) AppliedMigrations(ctx context.Context) (map[int64]time.Time, error) {
	const q = `SELECT version_id, is_applied, tstamp FROM ` + goose.DefaultTablename + ` ORDER BY id`
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int64]time.Time{}
	for rows.Next() {
		var version int64
		var ok bool
		var at *time.Time
		if err := rows.Scan(&version, &ok, &at); err != nil {
			return nil, fmt.Errorf("read the applied migrations: %w", err)
		}
		switch {
		case version == 0:
		case ok:
			applied[version] = time.Time{}
			if at != nil {
				applied[version] = *at
			}
		default: // an older goose recorded a migration undone this way
			delete(applied, version)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the applied migrations: %w", err)
	}
	return applied, nil
}
