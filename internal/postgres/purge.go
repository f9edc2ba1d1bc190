package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/retention"
)

// Purge is the PostgreSQL retention.Store: batched deletions of ended
// sessions and tokens. Each batch is one statement (its own transaction)
// that picks its rows FOR UPDATE SKIP LOCKED, so it never waits for, nor
// holds up, a request working on a row; the indexes of migration 00012 find
// the rows without reading the live ones.
type Purge struct{ db *DB }

var _ retention.Store = (*Purge)(nil)

// Purge returns the retention store of db.
func (s *DB) Purge() *Purge { return &Purge{db: s} }

// purgeWait bounds one batch: a thousand rows take milliseconds; more
// means the database is struggling, and the next run tries again.
const purgeWait = 30 * time.Second

// The statements of a retention batch, one a table: $1 the cutoff, $2 the
// batch's size.
const (
	purgeSessionsQuery = `
		WITH doomed AS (
			SELECT id FROM sessions
			WHERE expires_at < $1 OR revoked_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED),
		tokens AS (DELETE FROM refresh_tokens WHERE session_id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1),
		gone AS (DELETE FROM sessions WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1)
		SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM tokens)`
	//nolint:gosec // SQL, no credential
	purgeAccountTokensQuery = `
		DELETE FROM account_tokens WHERE hash = ANY(ARRAY(
			SELECT hash FROM account_tokens
			WHERE expires_at < $1 OR used_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED))`
	purgeEmailChangesQuery = `
		DELETE FROM email_changes WHERE hash = ANY(ARRAY(
			SELECT hash FROM email_changes
			WHERE expires_at < $1 OR used_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED))`
	purgeMFAChallengesQuery = `
		DELETE FROM mfa_challenges WHERE hash = ANY(ARRAY(
			SELECT hash FROM mfa_challenges
			WHERE expires_at < $1 OR used_at < $1
			LIMIT $2
			FOR UPDATE SKIP LOCKED))`
)

// PurgeSessions implements retention.Store. The refresh tokens are
// deleted in the same statement (the foreign key's cascade would too, but
// uncounted).
func (p *Purge) PurgeSessions(ctx context.Context, before time.Time, limit int) (sessions, tokens int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, purgeWait)
	defer cancel()
	if err := p.db.pool.QueryRow(ctx, purgeSessionsQuery, before, limit).Scan(&sessions, &tokens); err != nil {
		return 0, 0, translate(err, "purge sessions")
	}
	return sessions, tokens, nil
}

// PurgeAccountTokens implements retention.Store.
func (p *Purge) PurgeAccountTokens(ctx context.Context, before time.Time, limit int) (int64, error) {
	return p.exec(ctx, purgeAccountTokensQuery, before, limit, "purge account tokens")
}

// PurgeEmailChanges implements retention.Store.
func (p *Purge) PurgeEmailChanges(ctx context.Context, before time.Time, limit int) (int64, error) {
	return p.exec(ctx, purgeEmailChangesQuery, before, limit, "purge email changes")
}

// PurgeMFAChallenges implements retention.Store.
func (p *Purge) PurgeMFAChallenges(ctx context.Context, before time.Time, limit int) (int64, error) {
	return p.exec(ctx, purgeMFAChallengesQuery, before, limit, "purge mfa challenges")
}

// exec runs the deletion q and says how many rows went.
func (p *Purge) exec(ctx context.Context, q string, before time.Time, limit int, op string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, purgeWait)
	defer cancel()
	tag, err := p.db.pool.Exec(ctx, q, before, limit)
	if err != nil {
		return 0, translate(err, op)
	}
	return tag.RowsAffected(), nil
}

// Pending implements retention.Store; a zero cutoff counts nothing.
func (p *Purge) Pending(ctx context.Context, c retention.Cutoffs) (map[string]int64, error) {
	const q = `
		SELECT
			(SELECT count(*) FROM sessions WHERE expires_at < $1 OR revoked_at < $1),
			(SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
				WHERE s.expires_at < $1 OR s.revoked_at < $1),
			(SELECT count(*) FROM account_tokens WHERE expires_at < $2 OR used_at < $2),
			(SELECT count(*) FROM email_changes WHERE expires_at < $2 OR used_at < $2),
			(SELECT count(*) FROM audit_events WHERE at < $3),
			(SELECT count(*) FROM mfa_challenges WHERE expires_at < $4 OR used_at < $4)`
	var s, t, a, e, au, mc int64
	err := p.db.pool.QueryRow(ctx, q, nullTime(c.Sessions), nullTime(c.Tokens), nullTime(c.Audit), nullTime(c.Challenges)).Scan(&s, &t, &a, &e, &au, &mc)
	if err != nil {
		return nil, translate(err, "count what retention would remove")
	}
	return map[string]int64{
		retention.Sessions: s, retention.RefreshTokens: t, retention.AccountTokens: a,
		retention.EmailChanges: e, retention.AuditEvents: au, retention.MFAChallenges: mc,
	}, nil
}

// Oldest implements retention.Store, each from an index but the account
// tokens: sessions by their UUIDv7 id (time-ordered), a refresh token as
// the first of the oldest session, email changes by the earliest expiry
// (they all live the undo link's time), audit events by at. Account
// tokens live as long as their purpose says (a week's verification link,
// an hour's reset link), so the earliest expiry is not the oldest: their
// table, which retention keeps to about a week of links, is read whole.
func (p *Purge) Oldest(ctx context.Context) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT
			(SELECT created_at FROM sessions ORDER BY id LIMIT 1),
			(SELECT min(created_at) FROM refresh_tokens WHERE session_id = (SELECT id FROM sessions ORDER BY id LIMIT 1)),
			(SELECT min(created_at) FROM account_tokens),
			(SELECT created_at FROM email_changes ORDER BY expires_at LIMIT 1),
			(SELECT min(at) FROM audit_events)`
	var at [5]*time.Time
	if err := p.db.pool.QueryRow(ctx, q).Scan(&at[0], &at[1], &at[2], &at[3], &at[4]); err != nil {
		return nil, translate(err, "oldest rows")
	}
	out := map[string]time.Time{}
	for i, t := range []string{retention.Sessions, retention.RefreshTokens, retention.AccountTokens, retention.EmailChanges, retention.AuditEvents} {
		if at[i] != nil {
			out[t] = at[i].UTC()
		}
	}
	return out, nil
}

// retentionLockID is the key of the advisory lock that lets one replica at
// a time run retention; it differs from migrationLockID.
const retentionLockID int64 = 0x7573657273766332 // "usersvc2"

// TryLock implements retention.Locker with a session-level advisory lock
// on a connection of its own (not the pool's, which serves requests), held
// until release: PostgreSQL frees the lock when the connection ends, so a
// replica that dies mid-run never keeps it.
func (p *Purge) TryLock(ctx context.Context) (release func(), ok bool, err error) {
	c, err := pgx.ConnectConfig(ctx, p.db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, false, translate(err, "retention lock")
	}
	closeConn := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queryWait)
		defer cancel()
		_ = c.Close(ctx) // the lock ends with the connection
	}
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, retentionLockID).Scan(&ok); err != nil || !ok {
		closeConn()
		if err != nil {
			return nil, false, translate(err, "retention lock")
		}
		return nil, false, nil
	}
	return closeConn, true, nil
}
