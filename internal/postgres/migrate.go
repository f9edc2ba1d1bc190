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
// advisory lock. Unlike goose's own (lock.NewPostgresSessionLocker), which
// polls every few seconds, it waits in pg_advisory_lock, so a waiting
// replica goes on the moment the first one is done. PostgreSQL releases
// the lock when the holder's connection ends, so a process killed while
// migrating never leaves it held.
type advisoryLock struct {
	id   int64
	wait time.Duration
}

var _ lock.SessionLocker = advisoryLock{}

// SessionLock waits, at most l.wait, for the lock on conn.
func (l advisoryLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, l.id); err != nil {
		return fmt.Errorf("wait for the migration lock (another process may be migrating this database): %w", err)
	}
	return nil
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
