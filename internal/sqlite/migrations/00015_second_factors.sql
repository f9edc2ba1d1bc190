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
-- Times are text as in the session tables.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT '';

CREATE TABLE mfa_totp (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret       BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    confirmed_at TEXT,
    last_step    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, hash)
) STRICT;

CREATE TABLE mfa_challenges (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL DEFAULT '' CHECK (length(client_id) <= 255),
    device     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;

CREATE INDEX mfa_challenges_user_id ON mfa_challenges (user_id);

-- +goose Down
DROP TABLE IF EXISTS mfa_challenges;
DROP TABLE IF EXISTS mfa_recovery_codes;
DROP TABLE IF EXISTS mfa_totp;
ALTER TABLE sessions DROP COLUMN acr;
ALTER TABLE sessions DROP COLUMN amr;
