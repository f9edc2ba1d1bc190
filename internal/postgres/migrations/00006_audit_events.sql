-- +goose Up
-- The audit log: one row per security event, append-only. ids come from an
-- identity sequence and only grow, so the listing pages by id. No foreign
-- key to users: deleting an account keeps its history, ids and all. A NULL
-- actor or subject is an anonymous caller or an account that does not
-- exist; detail is a JSON object of strings (never a secret), NULL when
-- empty.
CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    kind       VARCHAR(64) NOT NULL CHECK (kind <> ''),
    actor_id   UUID,
    subject_id UUID,
    ip         VARCHAR(45) NOT NULL DEFAULT '',
    user_agent VARCHAR(255) NOT NULL DEFAULT '' CHECK (octet_length(user_agent) <= 255),
    request_id VARCHAR(128) NOT NULL DEFAULT '',
    detail     JSONB CHECK (jsonb_typeof(detail) = 'object')
);

CREATE INDEX audit_events_subject ON audit_events (subject_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only, enforced by the database whoever connects (short of the
-- table's owner dropping the triggers). Purging old events needs a
-- migration that drops them first.
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE IF EXISTS audit_events;
DROP FUNCTION IF EXISTS audit_events_append_only();
