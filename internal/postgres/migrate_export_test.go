package postgres

import (
	"context"
	"database/sql"
	"io/fs"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/usersvc/usersvc/internal/user"
)

// NewMigrator lets the external tests run newMigrator on migrations of
// their own.
func NewMigrator(db *sql.DB, fsys fs.FS) (*goose.Provider, error) { return newMigrator(db, fsys) }

// MigrationLock returns the migrations' advisory lock on clock, which a
// test moves.
func MigrationLock(clock *LockClock) lock.SessionLocker {
	return advisoryLock{id: migrationLockID, wait: migrationLockWait, clock: clock}
}

// LockClock is a lockClock that moves when a test says: Tick lets a
// waiting SessionLock try again, and returns once it has taken the tick
// (so its try before found the lock held); Expire ends every wait begun.
type LockClock struct {
	ticks chan time.Time
	mu    sync.Mutex
	ends  []func()
}

// NewLockClock returns a LockClock at its start.
func NewLockClock() *LockClock { return &LockClock{ticks: make(chan time.Time)} }

// AfterFunc keeps f for Expire.
func (c *LockClock) AfterFunc(_ time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ends = append(c.ends, f)
	return func() bool { return true }
}

// Ticks returns the channel Tick sends on.
func (c *LockClock) Ticks(time.Duration) (<-chan time.Time, func()) { return c.ticks, func() {} }

// Tick hands a waiting SessionLock its next try, once it waits for it.
func (c *LockClock) Tick(ctx context.Context) error {
	select {
	case c.ticks <- time.Time{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Expire ends the waits begun: their bound has passed.
func (c *LockClock) Expire() {
	c.mu.Lock()
	ends := c.ends
	c.mu.Unlock()
	for _, f := range ends {
		f()
	}
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
