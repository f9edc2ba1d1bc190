-- +goose Up
-- Passkeys (issue 22, internal/passkey): the WebAuthn credentials of an
-- account, and the ceremonies begun and not yet finished. New tables only,
-- so the release before this one keeps working on this schema.
--   passkeys.record: the relying party's credential record (public key,
--   flags, authenticator data) as the library's JSON; sign_count is its
--   signature counter, kept apart so that a use can move it conditionally.
--   amr: 'hwk' (a key bound to its device) or 'swk' (backup eligible).
--   webauthn_ceremonies: one row per begun ceremony, keyed by the SHA-256
--   of the handle the client holds; taking it deletes it (single use).
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    record        BYTEA NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0,
    amr           TEXT NOT NULL CHECK (amr IN ('hwk', 'swk')),
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);

CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

CREATE TABLE webauthn_ceremonies (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    kind       TEXT NOT NULL CHECK (kind IN ('register', 'login', 'second_factor')),
    user_id    UUID,
    session_id UUID,
    data       BYTEA NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- +goose Down
DROP TABLE IF EXISTS webauthn_ceremonies;
DROP TABLE IF EXISTS passkeys;
