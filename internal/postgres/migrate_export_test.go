package postgres

import (
	"database/sql"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/usersvc/usersvc/internal/user"
)

// NewMigrator lets the external tests run newMigrator on migrations of
// their own.
func NewMigrator(db *sql.DB, fsys fs.FS) (*goose.Provider, error) { return newMigrator(db, fsys) }

// MigrationLock returns the migrations' advisory lock with another wait.
func MigrationLock(wait time.Duration) lock.SessionLocker {
	return advisoryLock{id: migrationLockID, wait: wait}
}

// AuditQuery is the statement Audit.Events runs for f, for EXPLAIN.
func AuditQuery(f user.AuditFilter) (string, []any) { return auditQuery(f) }

// ListQuery is the statement Users.List runs for q, for EXPLAIN.
func ListQuery(q user.ListQuery) (string, []any) { return listQuery(q) }
