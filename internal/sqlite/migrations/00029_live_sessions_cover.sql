-- +goose Up
-- Each account's live sessions, read from the index alone (issue 25): the
-- cap every login enforces (Sessions.RevokeOldest) reads the ids of the
-- account's live sessions newest first, which through 00028's
-- sessions_live (user_id, expires_at) read each one's row of the table for
-- created_at and id, then sorted them. This index is a covering one for
-- that query: every column it names, revoked_at included (always NULL
-- here, one byte of the record's header, but SQLite counts an index as
-- covering only if it holds every column the query names, the partial
-- index's condition included). The sessions list (Sessions.Active) reads
-- it in its order, no sort, and reads a row of the table only for an
-- entry that passed the expiry and the cursor. sessions_live is dropped:
-- no release reads it (00028 is unreleased).
CREATE INDEX IF NOT EXISTS sessions_live_cover ON sessions (user_id, created_at, id, expires_at, revoked_at) WHERE revoked_at IS NULL;
DROP INDEX IF EXISTS sessions_live;

-- +goose Down
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;
DROP INDEX IF EXISTS sessions_live_cover;
