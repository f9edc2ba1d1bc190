-- +goose Up
-- Bounded growth (issue 25): indexes for the administrators' audit search
-- and for retention; the twin of the PostgreSQL migration. The search by
-- email or username prefix needs none: it is a range on lower(email) /
-- lower(username), which the unique indexes of 00001 serve (SQLite's
-- lower() is ASCII and those indexes compare byte-wise). Additions only.
--
-- audit_events (subject_id, at), (actor_id, at), (kind, at): the listing
-- of one account's, one actor's or one kind's events in a time window
-- reads only that window.
CREATE INDEX IF NOT EXISTS audit_events_subject_at ON audit_events (subject_id, at);
CREATE INDEX IF NOT EXISTS audit_events_actor_at ON audit_events (actor_id, at);
CREATE INDEX IF NOT EXISTS audit_events_kind_at ON audit_events (kind, at);

-- Retention finds the sessions and tokens that ended long enough ago
-- without reading the live ones.
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS account_tokens_expires_at ON account_tokens (expires_at);
CREATE INDEX IF NOT EXISTS account_tokens_used_at ON account_tokens (used_at) WHERE used_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS email_changes_expires_at ON email_changes (expires_at);

-- +goose Down
DROP INDEX IF EXISTS email_changes_expires_at;
DROP INDEX IF EXISTS account_tokens_used_at;
DROP INDEX IF EXISTS account_tokens_expires_at;
DROP INDEX IF EXISTS sessions_revoked_at;
DROP INDEX IF EXISTS sessions_expires_at;
DROP INDEX IF EXISTS audit_events_kind_at;
DROP INDEX IF EXISTS audit_events_actor_at;
DROP INDEX IF EXISTS audit_events_subject_at;
