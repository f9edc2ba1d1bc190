-- +goose Up
-- One-time account tokens: email verification and password reset. Only the
-- SHA-256 hash of a token is kept. email is the address the token was
-- mailed to: verifying checks it is still the account's. Times are UTC text
-- with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ), as for sessions, so they
-- compare as text. Deleting a user deletes its tokens.
CREATE TABLE account_tokens (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email      TEXT NOT NULL CHECK (length(email) <= 255),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;

CREATE INDEX account_tokens_user_id ON account_tokens (user_id, purpose);

-- +goose Down
DROP TABLE IF EXISTS account_tokens;
