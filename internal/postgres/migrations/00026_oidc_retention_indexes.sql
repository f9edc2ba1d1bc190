-- +goose NO TRANSACTION
-- +goose Up
-- Retention's batches of the OpenID provider's state (issues 23 and 25:
-- postgres.OIDCGrants.PurgeExpired) find their rows through an index
-- instead of reading every row of the table at each batch: expired refresh
-- tokens by expires_at, revoked grants by revoked_at (only revoked ones are
-- indexed: most grants are live), grants made before the cutoff by
-- created_at. Expired auth requests already have theirs (00020).
--
-- New indexes only: the previous release runs on this schema as before
-- (docs/deploy.md). Built CONCURRENTLY, each statement on its own outside
-- a transaction, a DROP ... IF EXISTS first so that a build that failed
-- half-way (an INVALID index) is rebuilt when the migration runs again
-- (as in 00012 and 00022).
DROP INDEX CONCURRENTLY IF EXISTS oidc_refresh_tokens_expires_at;
CREATE INDEX CONCURRENTLY oidc_refresh_tokens_expires_at ON oidc_refresh_tokens (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS oidc_grants_revoked_at;
CREATE INDEX CONCURRENTLY oidc_grants_revoked_at ON oidc_grants (revoked_at) WHERE revoked_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS oidc_grants_created_at;
CREATE INDEX CONCURRENTLY oidc_grants_created_at ON oidc_grants (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS oidc_grants_created_at;
DROP INDEX CONCURRENTLY IF EXISTS oidc_grants_revoked_at;
DROP INDEX CONCURRENTLY IF EXISTS oidc_refresh_tokens_expires_at;
