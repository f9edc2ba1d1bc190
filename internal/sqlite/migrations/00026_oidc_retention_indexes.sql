-- +goose Up
-- Retention's batches of the OpenID provider's state (issues 23 and 25:
-- sqlite.OIDCGrants.PurgeExpired) find their rows through an index
-- instead of reading every row of the table at each batch: expired refresh
-- tokens by expires_at, revoked grants by revoked_at (only revoked ones are
-- indexed: most grants are live), grants made before the cutoff by
-- created_at. Expired auth requests already have theirs (00020). New
-- indexes only: the previous release runs on this schema as before
-- (docs/deploy.md). The twin of PostgreSQL's 00026, built plainly (SQLite
-- has no concurrent build).
CREATE INDEX IF NOT EXISTS oidc_refresh_tokens_expires_at ON oidc_refresh_tokens (expires_at);
CREATE INDEX IF NOT EXISTS oidc_grants_revoked_at ON oidc_grants (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_grants_created_at ON oidc_grants (created_at);

-- +goose Down
DROP INDEX IF EXISTS oidc_grants_created_at;
DROP INDEX IF EXISTS oidc_grants_revoked_at;
DROP INDEX IF EXISTS oidc_refresh_tokens_expires_at;
