-- +goose Up
-- One index of each account's sessions instead of two (issue 25): every
-- login inserts an entry into each index keyed by account, and on
-- PostgreSQL at 50M sessions logins ran at 0.77 of an empty database's
-- rate with two, 0.81 with this one. It holds every column the cap a login
-- enforces (Sessions.RevokeOldest) names, so SQLite reads the cap from it
-- alone (COVERING INDEX). The sessions list (Sessions.Active) reads it in
-- its order, no sort, and a row of the table only for an entry that passed
-- the expiry, revocation and cursor.
--
-- It replaces sessions_user_id (00002), which it extends (the same leading
-- column, user_id, more after it): docs/deploy.md's exception for indexes.
-- Every query of v0.1.0 by user_id, the ON DELETE CASCADE of users to
-- sessions included, reads it instead. 00028's sessions_live goes too: no
-- release reads it (it is unreleased).
CREATE INDEX IF NOT EXISTS sessions_user_cover ON sessions (user_id, created_at, id, expires_at, revoked_at);
DROP INDEX IF EXISTS sessions_live;
DROP INDEX IF EXISTS sessions_user_id;

-- +goose Down
CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;
DROP INDEX IF EXISTS sessions_user_cover;
