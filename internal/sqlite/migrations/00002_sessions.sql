-- +goose Up
-- Sessions (one per login) and their refresh tokens, of which only the
-- SHA-256 hash is kept. Times are UTC text with microseconds
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), written by the service, so they compare
-- as text. Deleting a user deletes its sessions, and those their tokens.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    user_agent   TEXT NOT NULL DEFAULT '' CHECK (length(CAST(user_agent AS BLOB)) <= 255),
    ip           TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 45)
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
