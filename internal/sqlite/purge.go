package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/usersvc/usersvc/internal/retention"
)

// Purge is the SQLite retention.Store: batched deletions of ended sessions
// and tokens, each batch one short transaction on the writer (every other
// write waits for it, so it stays small); the indexes of migration 00012
// find the rows without reading the live ones.
type Purge struct{ c conn }

var _ retention.Store = (*Purge)(nil)

// Purge returns the retention store of db.
func (s *DB) Purge() *Purge { return &Purge{c: conn{db: s}} }

// retentionLockSuffix names the lock file beside the database file that
// lets one process at a time run retention.
const retentionLockSuffix = "-retention.lock"

// PurgeSessions implements retention.Store: it picks up to limit ended
// sessions, then deletes their refresh tokens and them, in one
// transaction.
func (p *Purge) PurgeSessions(ctx context.Context, before time.Time, limit int) (sessions, tokens int64, err error) {
	ctx, cancel := p.c.wait(ctx)
	defer cancel()
	const (
		pick = `
			SELECT json_group_array(id) FROM (
				SELECT id FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1 LIMIT ?2)`
		dropTokens   = `DELETE FROM refresh_tokens WHERE session_id IN (SELECT value FROM json_each(?))` //nolint:gosec // SQL, no credential
		dropSessions = `DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))`
	)
	err = p.c.inTx(ctx, func(tx *sql.Tx) error {
		var ids string
		if err := tx.QueryRowContext(ctx, pick, ts(before), limit).Scan(&ids); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, dropTokens, ids)
		if err != nil {
			return err
		}
		if tokens, err = res.RowsAffected(); err != nil {
			return err
		}
		if res, err = tx.ExecContext(ctx, dropSessions, ids); err != nil {
			return err
		}
		sessions, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, 0, translate(err, "purge sessions")
	}
	return sessions, tokens, nil
}

// PurgeAccountTokens implements retention.Store.
func (p *Purge) PurgeAccountTokens(ctx context.Context, before time.Time, limit int) (int64, error) {
	const q = `
		DELETE FROM account_tokens WHERE hash IN (
			SELECT hash FROM account_tokens WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`
	return p.exec(ctx, q, before, limit, "purge account tokens")
}

// PurgeEmailChanges implements retention.Store.
func (p *Purge) PurgeEmailChanges(ctx context.Context, before time.Time, limit int) (int64, error) {
	const q = `
		DELETE FROM email_changes WHERE hash IN (
			SELECT hash FROM email_changes WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`
	return p.exec(ctx, q, before, limit, "purge email changes")
}

// PurgeMFAChallenges implements retention.Store.
func (p *Purge) PurgeMFAChallenges(ctx context.Context, before time.Time, limit int) (int64, error) {
	const q = `
		DELETE FROM mfa_challenges WHERE hash IN (
			SELECT hash FROM mfa_challenges WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`
	return p.exec(ctx, q, before, limit, "purge mfa challenges")
}

// exec runs the deletion q and says how many rows went.
func (p *Purge) exec(ctx context.Context, q string, before time.Time, limit int, op string) (int64, error) {
	ctx, cancel := p.c.wait(ctx)
	defer cancel()
	res, err := p.c.exec(ctx, q, ts(before), limit)
	if err != nil {
		return 0, translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}

// Pending implements retention.Store; a zero cutoff counts nothing.
func (p *Purge) Pending(ctx context.Context, c retention.Cutoffs) (map[string]int64, error) {
	const q = `
		SELECT
			(SELECT count(*) FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1),
			(SELECT count(*) FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
				WHERE s.expires_at < ?1 OR s.revoked_at < ?1),
			(SELECT count(*) FROM account_tokens WHERE expires_at < ?2 OR used_at < ?2),
			(SELECT count(*) FROM email_changes WHERE expires_at < ?2 OR used_at < ?2),
			(SELECT count(*) FROM audit_events WHERE at < ?3),
			(SELECT count(*) FROM mfa_challenges WHERE expires_at < ?4 OR used_at < ?4)`
	var s, t, a, e, au, mc int64
	err := p.c.readRow(ctx, q, nullTS(c.Sessions), nullTS(c.Tokens), nullTS(c.Audit), nullTS(c.Challenges)).Scan(&s, &t, &a, &e, &au, &mc)
	if err != nil {
		return nil, translate(err, "count what retention would remove")
	}
	return map[string]int64{
		retention.Sessions: s, retention.RefreshTokens: t, retention.AccountTokens: a,
		retention.EmailChanges: e, retention.AuditEvents: au, retention.MFAChallenges: mc,
	}, nil
}

// Oldest implements retention.Store as the PostgreSQL store does: each
// from an index but the account tokens, whose table is read whole.
func (p *Purge) Oldest(ctx context.Context) (map[string]time.Time, error) {
	const q = `
		SELECT
			(SELECT created_at FROM sessions ORDER BY id LIMIT 1),
			(SELECT min(created_at) FROM refresh_tokens WHERE session_id = (SELECT id FROM sessions ORDER BY id LIMIT 1)),
			(SELECT min(created_at) FROM account_tokens),
			(SELECT created_at FROM email_changes ORDER BY expires_at LIMIT 1),
			(SELECT min(at) FROM audit_events)`
	var at [5]sql.NullString
	if err := p.c.readRow(ctx, q).Scan(&at[0], &at[1], &at[2], &at[3], &at[4]); err != nil {
		return nil, translate(err, "oldest rows")
	}
	out := map[string]time.Time{}
	for i, t := range []string{retention.Sessions, retention.RefreshTokens, retention.AccountTokens, retention.EmailChanges, retention.AuditEvents} {
		if !at[i].Valid {
			continue
		}
		var v time.Time
		if err := parseTS(at[i].String, &v); err != nil {
			return nil, fmt.Errorf("oldest %s: %w", t, err)
		}
		out[t] = v
	}
	return out, nil
}

// nullTS is ts(t), or NULL for the zero time.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// TryLock implements retention.Locker with an exclusive lock of a file
// beside the database: one process at a time (the operating system
// releases it when the holder exits).
func (p *Purge) TryLock(context.Context) (release func(), ok bool, err error) {
	path := p.c.db.path + retentionLockSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- beside the operator's database file
	if err != nil {
		return nil, false, fmt.Errorf("open the retention lock file: %w", err)
	}
	if ok, err = tryLockFile(f); err != nil || !ok {
		_ = f.Close()
		return nil, false, err
	}
	return func() { _ = unlockFile(f); _ = f.Close() }, true, nil
}
