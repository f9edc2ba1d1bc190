-- +goose Up
-- Second factors (issue 22). Additions only, so the release before this
-- one keeps working on this schema (docs/deploy.md):
--   mfa_totp: an account's TOTP authenticator, its secret sealed with the
--   key-encryption key; last_step is the time step of the last code
--   accepted (a code works once).
--   mfa_recovery_codes: keyed hashes of the recovery codes, each usable once.
--   mfa_challenges: the pending second steps of password logins (the hash
--   of the mfa_token).
--   sessions.amr, sessions.acr: how the login proved its holder (empty: a
--   session of the release before, a password login).
SET LOCAL lock_timeout = '5s';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT '';

CREATE TABLE mfa_totp (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE mfa_recovery_codes (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL CHECK (length(hash) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE mfa_challenges (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  VARCHAR(255) NOT NULL DEFAULT '',
    device     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX mfa_challenges_user_id ON mfa_challenges (user_id);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE IF EXISTS mfa_challenges;
DROP TABLE IF EXISTS mfa_recovery_codes;
DROP TABLE IF EXISTS mfa_totp;
ALTER TABLE sessions DROP COLUMN IF EXISTS acr;
ALTER TABLE sessions DROP COLUMN IF EXISTS amr;
