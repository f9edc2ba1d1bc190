-- +goose NO TRANSACTION
-- +goose Up
-- Bounded growth (issue 25): indexes for the administrators' audit and
-- user searches and for retention. Additions only, so the release before
-- this one keeps working on this schema (docs/deploy.md).
--
-- Built CONCURRENTLY, so writes to these (possibly large) tables go on
-- while they build; that cannot run inside a transaction, hence NO
-- TRANSACTION above, each statement on its own. The migration lock (a
-- session-level advisory lock on another connection, idle outside any
-- transaction) does not hold the builds up. A build that fails half-way
-- leaves an INVALID index of its name: every CREATE is preceded by a
-- DROP ... IF EXISTS, so that running the migration again rebuilds it.
--
-- audit_events (subject_id, at), (actor_id, at), (kind, at): the listing
-- of one account's, one actor's or one kind's events in a time window
-- reads only that window (the window-first query of postgres.Audit.Events).
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at;
CREATE INDEX CONCURRENTLY audit_events_subject_at ON audit_events (subject_id, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at;
CREATE INDEX CONCURRENTLY audit_events_actor_at ON audit_events (actor_id, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at;
CREATE INDEX CONCURRENTLY audit_events_kind_at ON audit_events (kind, at);

-- The search by email or username prefix: text_pattern_ops compares
-- byte-wise, so LIKE 'prefix%' (and ~>=~ / ~<~ ranges) use the index
-- whatever the database's collation, which the unique lower() indexes
-- cannot.
DROP INDEX CONCURRENTLY IF EXISTS users_email_lower_pattern;
CREATE INDEX CONCURRENTLY users_email_lower_pattern ON users (lower(email) text_pattern_ops);
DROP INDEX CONCURRENTLY IF EXISTS users_username_lower_pattern;
CREATE INDEX CONCURRENTLY users_username_lower_pattern ON users (lower(username) text_pattern_ops);

-- Retention finds the sessions and tokens that ended long enough ago
-- without reading the live ones.
DROP INDEX CONCURRENTLY IF EXISTS sessions_expires_at;
CREATE INDEX CONCURRENTLY sessions_expires_at ON sessions (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS sessions_revoked_at;
CREATE INDEX CONCURRENTLY sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS account_tokens_expires_at;
CREATE INDEX CONCURRENTLY account_tokens_expires_at ON account_tokens (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS account_tokens_used_at;
CREATE INDEX CONCURRENTLY account_tokens_used_at ON account_tokens (used_at) WHERE used_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS email_changes_expires_at;
CREATE INDEX CONCURRENTLY email_changes_expires_at ON email_changes (expires_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS email_changes_expires_at;
DROP INDEX CONCURRENTLY IF EXISTS account_tokens_used_at;
DROP INDEX CONCURRENTLY IF EXISTS account_tokens_expires_at;
DROP INDEX CONCURRENTLY IF EXISTS sessions_revoked_at;
DROP INDEX CONCURRENTLY IF EXISTS sessions_expires_at;
DROP INDEX CONCURRENTLY IF EXISTS users_username_lower_pattern;
DROP INDEX CONCURRENTLY IF EXISTS users_email_lower_pattern;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at;
