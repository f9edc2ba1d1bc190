-- +goose NO TRANSACTION
-- +goose Up
-- The events' jobs by subject (issue 20): before an event goes to a sink,
-- its delivery looks for the same user's earlier events still queued
-- (jobs.earlierEvents), so that each user's events reach a sink in order.
-- Without this index that look reads every unfinished job of the events
-- queue, which under a backlog makes draining it quadratic. The expression
-- is the one the look uses; mail jobs have no subject (NULL). An index
-- only, so the release before this one keeps working on this schema;
-- built CONCURRENTLY, as migration 00012's, so jobs go on while it builds,
-- after a DROP ... IF EXISTS that clears an INVALID index a failed build
-- left.
DROP INDEX CONCURRENTLY IF EXISTS river_job_event_subject;
CREATE INDEX CONCURRENTLY river_job_event_subject ON river_job ((args -> 'event' ->> 'subject'));

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS river_job_event_subject;
