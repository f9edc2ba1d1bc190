-- +goose Up
-- Account recovery and sensitive changes (issue 17). Additions only, so the
-- release before this one keeps working on this schema (docs/deploy.md):
-- each new column is nullable, and the code reads a NULL as the release
-- before meant it.
--   users.recovery_email: the trusted address (NULL: the email).
--   sessions.authenticated_at: the last password proof (NULL: the login).
--   account_tokens.token_version: the password a reset token may replace
--   (NULL: not bound, a token of the release before).
--   email_changes: the changes the previous address may undo.
-- Adding a nullable column rewrites nothing, but takes each table's
-- strongest lock for a moment: give up rather than queue every request
-- behind a long query on the table (SET LOCAL: this transaction only).
SET LOCAL lock_timeout = '5s';
ALTER TABLE users ADD COLUMN recovery_email VARCHAR(255);
ALTER TABLE sessions ADD COLUMN authenticated_at TIMESTAMPTZ;
ALTER TABLE account_tokens ADD COLUMN token_version BIGINT;

CREATE TABLE email_changes (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email  VARCHAR(255) NOT NULL,
    new_email  VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX email_changes_user_id ON email_changes (user_id);

-- +goose Down
SET LOCAL lock_timeout = '5s';
DROP TABLE IF EXISTS email_changes;
ALTER TABLE account_tokens DROP COLUMN IF EXISTS token_version;
ALTER TABLE sessions DROP COLUMN IF EXISTS authenticated_at;
ALTER TABLE users DROP COLUMN IF EXISTS recovery_email;
