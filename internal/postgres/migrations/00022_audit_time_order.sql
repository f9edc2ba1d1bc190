-- +goose NO TRANSACTION
-- +goose Up
-- The administrators' audit listing in time order (issue 25): it lists
-- events newest first by (at, id) and pages with a cursor of both, so that
-- the first page of any window, however old and wide, reads a page of
-- entries of one of these indexes and no sort. In id order a 30-day window
-- 180 days back at 1M events took 74 ms: the whole window read through
-- (at) and sorted by id.
--
-- Each replaces an index it extends by id: (at) of 00006 and
-- (subject_id, at), (actor_id, at), (kind, at) of 00012, dropped once the
-- new one is built. An index with the same leading columns serves every
-- query the old one did, so the previous release, whose queries read
-- (at) ranges, runs on this schema as fast as before (docs/deploy.md,
-- "an index replaced by one that extends it"); the planner, left both,
-- prefers the smaller old one and sorts each (at) tie by id instead.
--
-- Built CONCURRENTLY, each statement on its own outside a transaction, a
-- DROP ... IF EXISTS first so that a build that failed half-way (an
-- INVALID index) is rebuilt when the migration runs again (as in 00012).
--
-- SQLite needs no twin: its indexes end with the rowid, which is id, so
-- (at) there already is (at, id).
DROP INDEX CONCURRENTLY IF EXISTS audit_events_at_id;
CREATE INDEX CONCURRENTLY audit_events_at_id ON audit_events (at, id);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at_id;
CREATE INDEX CONCURRENTLY audit_events_subject_at_id ON audit_events (subject_id, at, id);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at_id;
CREATE INDEX CONCURRENTLY audit_events_actor_at_id ON audit_events (actor_id, at, id);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at_id;
CREATE INDEX CONCURRENTLY audit_events_kind_at_id ON audit_events (kind, at, id);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at;
CREATE INDEX CONCURRENTLY audit_events_kind_at ON audit_events (kind, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at;
CREATE INDEX CONCURRENTLY audit_events_actor_at ON audit_events (actor_id, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at;
CREATE INDEX CONCURRENTLY audit_events_subject_at ON audit_events (subject_id, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_at;
CREATE INDEX CONCURRENTLY audit_events_at ON audit_events (at);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_kind_at_id;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at_id;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_subject_at_id;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_at_id;
