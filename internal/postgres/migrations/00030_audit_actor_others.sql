-- +goose NO TRANSACTION
-- +goose Up
-- A login's audit event no longer goes into an index by actor (issue 25).
-- Every login appends an event whose actor is its subject, and each index
-- keyed by account costs a random insert per login: on a 50M-event
-- database with the indexes in memory, leaving (actor_id, at, id) out of
-- a login's path took logins from 0.81 to 0.83-0.86 of the empty
-- database's rate. Such an event is found, in time order, through
-- (subject_id, at, id) already, so the time-ordered index by actor holds
-- only the events whose actor is not their subject: the listing of an
-- actor's events (Audit.Events, ActorID by time) reads this index for the
-- events about others and (subject_id, at, id) for those about itself,
-- and merges the two pages. An anonymous event (NULL actor: a failed
-- login, a reset request) is never listed by actor and is left out too:
-- the predicate's first term, implied by the listing's actor_id = $1; the
-- listing repeats the second term word for word, which is how the planner
-- proves that the index holds every row the query asks for.
--
-- audit_events_actor_at_id of 00022 is dropped: it is unreleased, and the
-- previous release reads an actor's events through (actor_id, id) of
-- 00006, which stays (docs/deploy.md, "Pending contract").
--
-- The statistics: an event's actor is most often its subject, which the
-- planner, left to assume the columns independent, does not know; it then
-- expects a handful of an account's events to be its own and reads all of
-- them through a bitmap and sorts them, instead of reading
-- (subject_id, at, id) backward until a page is full. ANALYZE of the two
-- columns (a sample of the table, not a scan of it) builds them now rather
-- than at autovacuum's next analyze of the table.
--
-- Built CONCURRENTLY, each statement on its own outside a transaction, a
-- DROP ... IF EXISTS first so that a build that failed half-way (an
-- INVALID index) is rebuilt when the migration runs again (as in 00022).
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_others;
CREATE INDEX CONCURRENTLY audit_events_actor_others ON audit_events (actor_id, at, id)
    WHERE actor_id IS NOT NULL AND (actor_id <> subject_id OR subject_id IS NULL);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at_id;
CREATE STATISTICS IF NOT EXISTS audit_events_actor_subject (dependencies) ON actor_id, subject_id FROM audit_events;
ANALYZE audit_events (actor_id, subject_id);

-- +goose Down
DROP STATISTICS IF EXISTS audit_events_actor_subject;
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_at_id;
CREATE INDEX CONCURRENTLY audit_events_actor_at_id ON audit_events (actor_id, at, id);
DROP INDEX CONCURRENTLY IF EXISTS audit_events_actor_others;
