-- +goose Up
-- The client_id a session's login named ('' when it named none), so that
-- only that client redeems the session's refresh tokens (RFC 6749 section
-- 6). NULL is a session stored before this migration, or by the release
-- before while both run: its client is unknown, and any client redeems
-- its tokens, as before. A nullable column only, added without a rewrite:
-- the release before keeps working on this schema (it neither reads nor
-- writes it).
ALTER TABLE sessions ADD COLUMN client_id VARCHAR(255);

-- +goose Down
ALTER TABLE sessions DROP COLUMN IF EXISTS client_id;
