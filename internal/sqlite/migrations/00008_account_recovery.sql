-- +goose Up
-- Account recovery and sensitive changes (issue 17). Additions only, so the
-- release before this one keeps working on this schema (docs/deploy.md):
-- each new column is nullable, and the code reads a NULL as the release
-- before meant it.
--   users.recovery_email: the trusted address (NULL: the email).
--   sessions.authenticated_at: the last password proof (NULL: the login).
--   account_tokens.token_version: the password a reset token may replace
--   (NULL: not bound, a token of the release before).
--   email_changes: the changes the previous address may undo. Times are
--   text as in the session tables.
ALTER TABLE users ADD COLUMN recovery_email TEXT CHECK (length(recovery_email) <= 255);
ALTER TABLE sessions ADD COLUMN authenticated_at TEXT;
ALTER TABLE account_tokens ADD COLUMN token_version INTEGER;

CREATE TABLE email_changes (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email  TEXT NOT NULL CHECK (length(old_email) <= 255),
    new_email  TEXT NOT NULL CHECK (length(new_email) <= 255),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;

CREATE INDEX email_changes_user_id ON email_changes (user_id);

-- +goose Down
DROP TABLE IF EXISTS email_changes;
ALTER TABLE account_tokens DROP COLUMN token_version;
ALTER TABLE sessions DROP COLUMN authenticated_at;
ALTER TABLE users DROP COLUMN recovery_email;
