-- +goose Up
-- One-time account tokens: email verification and password reset. Only the
-- SHA-256 hash of a token is kept. email is the address the token was
-- mailed to: verifying checks it is still the account's. Times are written
-- by the service. Deleting a user deletes its tokens.
CREATE TABLE account_tokens (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    VARCHAR(32) NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email      VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX account_tokens_user_id ON account_tokens (user_id, purpose);

-- +goose Down
DROP TABLE IF EXISTS account_tokens;
