-- +goose Up
-- Sessions (one per login) and their refresh tokens, of which only the
-- SHA-256 hash is kept. Times are written by the service. Deleting a user
-- deletes its sessions, and those their tokens.
CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    user_agent   VARCHAR(255) NOT NULL DEFAULT '' CHECK (octet_length(user_agent) <= 255),
    ip           VARCHAR(45) NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
