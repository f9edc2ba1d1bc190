-- +goose NO TRANSACTION
-- +goose Up
-- One index of each account's sessions instead of two (issue 25). Every
-- login inserts an entry at a random place of each index keyed by account;
-- at 50M sessions, with sessions_user_id (00002) and a partial covering
-- index of the live sessions beside it, logins ran at 0.77 of an empty
-- database's rate. This one index in their place: 0.81.
--
-- It holds every column the cap a login enforces reads
-- (Sessions.RevokeOldest: the ids of the account's live sessions, newest
-- first), in that order, so the cap is an index-only scan, Heap Fetches 0
-- on pages vacuum has marked all-visible; expires_at and revoked_at are
-- key columns, so that their conditions are index conditions: the expired
-- and revoked sessions not yet purged are skipped in the index. The
-- sessions list (Sessions.Active) reads it in its keyset order, the cursor
-- and the expiry as index conditions too, and fetches only the heap rows
-- it returns.
--
-- It replaces sessions_user_id, which it extends (the same leading column,
-- user_id, more after it): docs/deploy.md's exception for indexes. Every
-- query of v0.1.0 by user_id (the sessions list, all sessions, revoking
-- all of an account's sessions, and the ON DELETE CASCADE of users to
-- sessions, DELETE FROM sessions WHERE user_id = ...) reads it instead.
-- 00028's sessions_live goes too: no release reads it (it is unreleased).
-- Built CONCURRENTLY, each statement on its own outside a transaction, the
-- new index before either drop, a DROP ... IF EXISTS first so that a build
-- that failed half-way (an INVALID index) is rebuilt when the migration
-- runs again (as in 00022).
DROP INDEX CONCURRENTLY IF EXISTS sessions_user_cover;
CREATE INDEX CONCURRENTLY sessions_user_cover ON sessions (user_id, created_at, id, expires_at, revoked_at);
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;
DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id;
CREATE INDEX CONCURRENTLY sessions_user_id ON sessions (user_id);
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;
CREATE INDEX CONCURRENTLY sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS sessions_user_cover;
