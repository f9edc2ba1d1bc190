-- +goose Up
-- The events' jobs by subject (issue 20): before an event goes to a sink,
-- its delivery looks for the same user's earlier events still queued
-- (jobs.earlierEvents), so that each user's events reach a sink in order.
-- Without this index that look reads every unfinished job of the events
-- queue, which under a backlog makes draining it quadratic. The expression
-- is the one the look uses; mail jobs have no subject (NULL). An index
-- only, so the release before this one keeps working on this schema.
CREATE INDEX river_job_event_subject ON river_job (args -> 'event' ->> 'subject');

-- +goose Down
DROP INDEX IF EXISTS river_job_event_subject;
