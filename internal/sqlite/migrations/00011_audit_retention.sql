-- +goose Up
-- Audit retention: `usersvc audit prune` may delete old events, and nothing
-- else may. SQLite has no session variables, so the permission is a row of
-- audit_prune_permits that the prune writes, uses and deletes inside one
-- transaction (on the single writer connection): no other connection ever
-- sees it committed. The delete trigger lets through only the events older
-- than a permit's date; UPDATE stays refused. Releases before this one only
-- append and read, so they run on this schema unchanged.
CREATE TABLE audit_prune_permits (
    before TEXT NOT NULL CHECK (length(before) BETWEEN 1 AND 64)
) STRICT;

DROP TRIGGER audit_events_no_delete;

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits p WHERE OLD.at < p.before)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_events_no_delete;

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
-- +goose StatementEnd

DROP TABLE audit_prune_permits;
