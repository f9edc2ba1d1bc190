-- +goose Up
-- Audit retention: `usersvc audit prune` may delete old events, and nothing
-- else may. audit_events_prune(cutoff) sets a transaction-local setting,
-- usersvc.audit_prune_before, deletes the events older than cutoff and
-- clears the setting; the append-only trigger lets a DELETE through only for
-- a row older than that setting, so no other statement of the service can
-- delete an event, and UPDATE and TRUNCATE stay refused. (The table's owner
-- can still drop the triggers: this guards the service's own statements.)
-- Releases before this one only append and read, so they run on this schema
-- unchanged.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < NULLIF(current_setting('usersvc.audit_prune_before', true), '')::timestamptz THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_events_prune(cutoff TIMESTAMPTZ) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    pruned BIGINT;
BEGIN
    IF cutoff IS NULL OR NOT isfinite(cutoff) THEN
        RAISE EXCEPTION 'audit_events_prune: a finite cutoff is required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('usersvc.audit_prune_before', cutoff::text, true);
    DELETE FROM audit_events WHERE at < cutoff;
    GET DIAGNOSTICS pruned = ROW_COUNT;
    PERFORM set_config('usersvc.audit_prune_before', '', true);
    RETURN pruned;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS audit_events_prune(TIMESTAMPTZ);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
