package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// oidcPurgeSteps are the deletions of one batch of OIDCGrants.PurgeExpired,
// in order, each of at most $2 rows picked FOR UPDATE SKIP LOCKED (never
// waiting for a row a request holds) through an index of migration 00020
// or 00026, and each returning how many rows it removed. The refresh
// tokens go before their grants, so that a grant's deletion removes few
// tokens, if any (those a request held when their step ran), counted.
//
// The picked keys reach the deletion as an array (= ANY(ARRAY(...))), so
// that the planner, which cannot know how few they are, looks each up by
// its index instead of hashing the whole table (TestOIDCPurgeUsesIndexes);
// OFFSET 0 keeps the look for a grant's live token a probe per grant.
var oidcPurgeSteps = []struct{ name, q string }{
	{"expired auth requests", `
		WITH gone AS (
			DELETE FROM oidc_auth_requests WHERE id = ANY(ARRAY(
				SELECT id FROM oidc_auth_requests WHERE expires_at < $1
				LIMIT $2 FOR UPDATE SKIP LOCKED))
			RETURNING 1)
		SELECT count(*) FROM gone`},
	{"expired refresh tokens", `
		WITH gone AS (
			DELETE FROM oidc_refresh_tokens WHERE hash = ANY(ARRAY(
				SELECT hash FROM oidc_refresh_tokens WHERE expires_at < $1
				LIMIT $2 FOR UPDATE SKIP LOCKED))
			RETURNING 1)
		SELECT count(*) FROM gone`},
	// The tokens of the first revoked grants in revoked_at order: the
	// next step takes its grants in the same order.
	{"refresh tokens of revoked grants", `
		WITH gone AS (
			DELETE FROM oidc_refresh_tokens WHERE hash = ANY(ARRAY(
				SELECT hash FROM oidc_refresh_tokens WHERE grant_id = ANY(ARRAY(
					SELECT id FROM oidc_grants WHERE revoked_at < $1 ORDER BY revoked_at LIMIT $2))
				LIMIT $2 FOR UPDATE SKIP LOCKED))
			RETURNING 1)
		SELECT count(*) FROM gone`},
	{"revoked grants", `
		WITH doomed AS (
			SELECT id FROM oidc_grants WHERE revoked_at < $1
			ORDER BY revoked_at LIMIT $2 FOR UPDATE SKIP LOCKED),
		tokens AS (DELETE FROM oidc_refresh_tokens WHERE grant_id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1),
		gone AS (DELETE FROM oidc_grants WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1)
		SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM tokens)`},
	{"grants left without a refresh token", `
		WITH doomed AS (
			SELECT id FROM oidc_grants g WHERE created_at < $1 AND NOT EXISTS (
				SELECT 1 FROM oidc_refresh_tokens t WHERE t.grant_id = g.id AND t.expires_at >= $1 OFFSET 0)
			LIMIT $2 FOR UPDATE SKIP LOCKED),
		tokens AS (DELETE FROM oidc_refresh_tokens WHERE grant_id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1),
		gone AS (DELETE FROM oidc_grants WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1)
		SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM tokens)`},
}

// PurgeExpired implements oidcop.Retention: one transaction of the steps
// of oidcPurgeSteps, each removing at most what the batch has left of
// limit, the next one run only while some is left.
func (s *OIDCGrants) PurgeExpired(ctx context.Context, before time.Time, limit int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, purgeWait)
	defer cancel()
	var total int64
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		total = 0 // BeginFunc does not retry, but a failed batch removed nothing
		for _, step := range oidcPurgeSteps {
			if total >= int64(limit) {
				return nil
			}
			var n int64
			if err := tx.QueryRow(ctx, step.q, before, int64(limit)-total).Scan(&n); err != nil {
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

// CountExpired implements oidcop.Retention: the rows PurgeExpired's steps
// would remove, each once.
func (s *OIDCGrants) CountExpired(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT
			(SELECT count(*) FROM oidc_auth_requests WHERE expires_at < $1)
			+ (SELECT count(*) FROM oidc_refresh_tokens t WHERE t.expires_at < $1
				OR EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = t.grant_id AND g.revoked_at < $1))
			+ (SELECT count(*) FROM oidc_grants g WHERE g.revoked_at < $1 OR (g.created_at < $1 AND NOT EXISTS (
				SELECT 1 FROM oidc_refresh_tokens t WHERE t.grant_id = g.id AND t.expires_at >= $1)))`
	var n int64
	if err := s.db.pool.QueryRow(ctx, q, before).Scan(&n); err != nil {
		return 0, translate(err, "count the OpenID provider's expired state")
	}
	return n, nil
}
