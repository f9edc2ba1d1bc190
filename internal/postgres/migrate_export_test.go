package postgres

import (
	"database/sql"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// NewMigrator lets the external tests run newMigrator on migrations of
// their own.
func NewMigrator(db *sql.DB, fsys fs.FS) (*goose.Provider, error) { return newMigrator(db, fsys) }

// MigrationLock returns the migrations' advisory lock with another wait.
func MigrationLock(wait time.Duration) lock.SessionLocker {
	return advisoryLock{id: migrationLockID, wait: wait}
}
