-- +goose Up
-- The audit log: one row per security event, append-only. ids only grow
-- (AUTOINCREMENT never reuses one), so the listing pages by id. No foreign
-- key to users: deleting an account keeps its history, ids and all. Times
-- are UTC text of the sessions' layout (YYYY-MM-DDTHH:MM:SS.ffffffZ); a
-- NULL actor or subject is an anonymous caller or an account that does not
-- exist; detail is a JSON object of strings (never a secret), NULL when
-- empty.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    actor_id   TEXT CHECK (length(actor_id) = 36),
    subject_id TEXT CHECK (length(subject_id) = 36),
    ip         TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 45),
    user_agent TEXT NOT NULL DEFAULT '' CHECK (length(CAST(user_agent AS BLOB)) <= 255),
    request_id TEXT NOT NULL DEFAULT '' CHECK (length(request_id) <= 128),
    detail     TEXT CHECK (json_valid(detail) AND json_type(detail) = 'object')
) STRICT;

CREATE INDEX audit_events_subject ON audit_events (subject_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only, enforced by the database whoever connects. Purging old
-- events needs a migration that drops these triggers first.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE IF EXISTS audit_events;
