-- +goose Up
-- Webhooks (issue 20, internal/webhook): the endpoints events are sent to,
-- and each event's delivery to each endpoint with its attempts. New
-- tables only, so the release before this one keeps working on this
-- schema (docs/deploy.md). Times are UTC RFC 3339 text with microseconds,
-- so that text order is time order.
--   webhook_endpoints.secret: the signing secret sealed with AES-256-GCM
--   under USERSVC_KEY_ENCRYPTION_KEY, never plaintext; previous_secret
--   keeps signing until previous_until after a rotation.
--   event_types: the subscribed types separated by spaces ('*': all).
--   webhook_deliveries: one per endpoint and event (the unique key makes an
--   event handed over twice one delivery); next_attempt_at is set while
--   pending. payload is the body sent at every attempt. subject and seq
--   are the event's user and per-user sequence: a user's deliveries to an
--   endpoint go in seq order (NULL subject: a test event, not ordered);
--   held marks one waiting for an earlier one of its user.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY NOT NULL,
    url             TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description     TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 255),
    event_types     TEXT NOT NULL CHECK (event_types <> ''),
    secret          BLOB NOT NULL,
    previous_secret BLOB,
    previous_until  TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    failing_since   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
    event_type      TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),
    subject         TEXT,
    seq             INTEGER NOT NULL DEFAULT 0,
    payload         BLOB NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,
    held            INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (endpoint_id, event_id)
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, subject, seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_held ON webhook_deliveries (endpoint_id, subject, seq) WHERE state = 'pending' AND held = 1;

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL CHECK (n >= 1),
    at          TEXT NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    duration_us INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (delivery_id, n)
) STRICT;

-- +goose Down
DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_endpoints;
