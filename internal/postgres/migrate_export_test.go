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

// SearchPatterns are the regular expression and the LIKE pattern of a
// search, as the walk of Users.List tests them on user.SearchText's
// fields and their folded text.
func SearchPatterns(search string) (regexp, like string) {
	p := user.SearchPattern(search)
	return searchRegexp(p), "%" + escapeLike(p) + "%"
}

// WalkQuery is the first statement Users.List runs for a search q.
func WalkQuery(q user.ListQuery) (string, []any) { return walkQuery(q) }

// SessionQueries are the statements of Sessions.Active and
// Sessions.RevokeOldest, for EXPLAIN.
var SessionQueries = map[string]string{"active": activeQuery, "revoke oldest": revokeOldestQuery}

// HeldQuery is the statement of EmailChanges.Held, for EXPLAIN.
const HeldQuery = heldQuery

// PurgeQueries are the statements of a retention batch (Purge and
// WebhookDeliveries.PurgeFinished) by the table they pick rows from, for
// EXPLAIN.
var PurgeQueries = map[string]string{
	"sessions": purgeSessionsQuery, "account_tokens": purgeAccountTokensQuery,
	"email_changes": purgeEmailChangesQuery, "mfa_challenges": purgeMFAChallengesQuery,
	"webhook_deliveries": purgeFinishedQuery,
}
