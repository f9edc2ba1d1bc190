package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// oidcPurgeSteps are the deletions of one batch of OIDCGrants.PurgeExpired,
// in order, as on PostgreSQL: each removes at most ?2 rows found through
// an index of migration 00020 or 00026, the refresh tokens before their
// grants. A grant's step picks its grants first (as json), then deletes
// their remaining refresh tokens and them, counting both.
var oidcPurgeSteps = []struct {
	name   string
	q      string // the deletion; for a grants' step, the pick
	grants bool
}{
	{"expired auth requests", `
		DELETE FROM oidc_auth_requests WHERE id IN (
			SELECT id FROM oidc_auth_requests WHERE expires_at < ?1 LIMIT ?2)`, false},
	{"expired refresh tokens", `
		DELETE FROM oidc_refresh_tokens WHERE hash IN (
			SELECT hash FROM oidc_refresh_tokens WHERE expires_at < ?1 LIMIT ?2)`, false},
	{"refresh tokens of revoked grants", `
		DELETE FROM oidc_refresh_tokens WHERE hash IN (
			SELECT t.hash FROM oidc_grants g JOIN oidc_refresh_tokens t ON t.grant_id = g.id
			WHERE g.revoked_at < ?1 LIMIT ?2)`, false},
	{"revoked grants", `
		SELECT json_group_array(id) FROM (
			SELECT id FROM oidc_grants WHERE revoked_at < ?1 LIMIT ?2)`, true},
	{"grants left without a refresh token", `
		SELECT json_group_array(id) FROM (
			SELECT id FROM oidc_grants g WHERE created_at < ?1 AND NOT EXISTS (
				SELECT 1 FROM oidc_refresh_tokens t WHERE t.grant_id = g.id AND t.expires_at >= ?1)
			LIMIT ?2)`, true},
}

// PurgeExpired implements oidcop.Retention: one transaction on the writer
// of the steps of oidcPurgeSteps, each removing at most what the batch has
// left of limit, the next one run only while some is left.
func (s *OIDCGrants) PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error) {
	c := conn{db: s.db}
	ctx, cancel := c.wait(ctx)
	defer cancel()
	var total int64
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		for _, step := range oidcPurgeSteps {
			if total >= int64(limit) {
				return nil
			}
			n, err := oidcPurgeStep(ctx, tx, step.q, step.grants, hookTime(before), int64(limit)-total)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, translate(err, "purge the OpenID provider's state")
	}
	return total, nil
}

// oidcPurgeStep runs one step of oidcPurgeSteps and says how many rows it
// removed.
func oidcPurgeStep(ctx context.Context, tx *sql.Tx, q string, grants bool, before string, limit int64) (int64, error) {
	if !grants {
		return execCount(ctx, tx, q, before, limit)
	}
	var ids string
	if err := tx.QueryRowContext(ctx, q, before, limit).Scan(&ids); err != nil {
		return 0, err
	}
	tokens, err := execCount(ctx, tx, `DELETE FROM oidc_refresh_tokens WHERE grant_id IN (SELECT value FROM json_each(?))`, ids)
	if err != nil {
		return 0, err
	}
	grantsGone, err := execCount(ctx, tx, `DELETE FROM oidc_grants WHERE id IN (SELECT value FROM json_each(?))`, ids)
	return tokens + grantsGone, err
}

// execCount runs q in tx and says how many rows it changed.
func execCount(ctx context.Context, tx *sql.Tx, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountExpired implements oidcop.Retention: the rows PurgeExpired's steps
// would remove, each once.
func (s *OIDCGrants) CountExpired(ctx context.Context, before time.Time) (int64, error) {
	const q = `
		SELECT
			(SELECT count(*) FROM oidc_auth_requests WHERE expires_at < ?1)
			+ (SELECT count(*) FROM oidc_refresh_tokens t WHERE t.expires_at < ?1
				OR EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = t.grant_id AND g.revoked_at < ?1))
			+ (SELECT count(*) FROM oidc_grants g WHERE g.revoked_at < ?1 OR (g.created_at < ?1 AND NOT EXISTS (
				SELECT 1 FROM oidc_refresh_tokens t WHERE t.grant_id = g.id AND t.expires_at >= ?1)))`
	var n int64
	if err := (conn{db: s.db}).readRow(ctx, q, hookTime(before)).Scan(&n); err != nil {
		return 0, translate(err, "count the OpenID provider's expired state")
	}
	return n, nil
}
