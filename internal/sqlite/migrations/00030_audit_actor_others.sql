-- +goose Up
-- A login's audit event no longer goes into an index by actor (issue 25):
-- the twin of the PostgreSQL migration. Every login appends an event whose
-- actor is its subject, and each index keyed by account costs a random
-- insert per login. Such an event is found in time order through
-- audit_events_subject_at (subject_id, at), so the time-ordered index by
-- actor holds only the events whose actor is not their subject (nor
-- anonymous: never listed by actor): the listing of an actor's events
-- reads it for the events about others and audit_events_subject_at for
-- those about itself, and merges the two pages. Its entries end with the
-- rowid, id, as those of audit_events_actor_at (actor_id, at) of 00012,
-- which it replaces: that one is unreleased, and the previous release
-- reads an actor's events through (actor_id, id) of 00006, which stays.
-- The listing repeats the predicate's second term word for word, and its
-- actor_id = ? implies the first: that is how SQLite proves that the
-- partial index holds every row the query asks for.
CREATE INDEX IF NOT EXISTS audit_events_actor_others ON audit_events (actor_id, at)
    WHERE actor_id IS NOT NULL AND (actor_id <> subject_id OR subject_id IS NULL);
DROP INDEX IF EXISTS audit_events_actor_at;

-- +goose Down
CREATE INDEX IF NOT EXISTS audit_events_actor_at ON audit_events (actor_id, at);
DROP INDEX IF EXISTS audit_events_actor_others;
