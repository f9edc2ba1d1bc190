-- +goose NO TRANSACTION
-- +goose Up
-- Each account's live sessions, read from the index alone (issue 25).
-- Every login ends the account's oldest sessions beyond the cap
-- (Sessions.RevokeOldest): it reads the ids of the account's live sessions
-- newest first. Through 00028's sessions_live (user_id, expires_at) that
-- fetched each live session's heap row for created_at and id, a random
-- page each: at 1M sessions (50 a year per account, two thirds expired or
-- revoked) 11 pages for an account with 8 live sessions, 8 of them heap.
-- This index holds those columns in the order the cap reads them, so it is
-- an index-only scan: 4 pages, Heap Fetches 0 (for heap pages that vacuum
-- has marked all-visible, as it does most of a large table). The sessions
-- list (Sessions.Active) reads it in its keyset order, the cursor and the
-- expiry as index conditions, and fetches the heap rows it returns only.
--
-- expires_at is a key column, not INCLUDE (expires_at): the index is the
-- same size either way (44 MB against sessions_live's 36 MB at 680,000
-- sessions not revoked), but only a key column's condition is checked in
-- the index by a plain index scan; with INCLUDE the sessions list fetched
-- the heap row of every expired session not yet purged, then filtered it
-- (34 heap pages instead of 8).
--
-- sessions_live is dropped in the same migration, although this index does
-- not extend it (docs/deploy.md, "Migrations across a blue/green switch"):
-- no release reads it (00028 is unreleased; the release before reads an
-- account's sessions through sessions_user_id, which stays). Built
-- CONCURRENTLY, each statement on its own outside a transaction, a
-- DROP ... IF EXISTS first so that a build that failed half-way (an
-- INVALID index) is rebuilt when the migration runs again (as in 00022).
DROP INDEX CONCURRENTLY IF EXISTS sessions_live_cover;
CREATE INDEX CONCURRENTLY sessions_live_cover ON sessions (user_id, created_at, id, expires_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;
CREATE INDEX CONCURRENTLY sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS sessions_live_cover;
