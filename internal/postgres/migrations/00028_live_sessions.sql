-- +goose NO TRANSACTION
-- +goose Up
-- Each account's live sessions (issue 25). Every login counts the
-- account's live sessions to end the oldest beyond the cap
-- (Sessions.RevokeOldest), and the sessions list pages through them
-- (Sessions.Active), both by user_id, revoked_at IS NULL and expires_at.
-- Through sessions_user_id alone that reads every session the account ever
-- had, one heap page each: with a year of history (50 per account at 50M
-- sessions) most of a login's reads. This index holds only the sessions not
-- revoked, by account and expiry, so both read the live ones alone. An
-- index only, so the release before this one keeps working on this schema;
-- built CONCURRENTLY (logins go on while it builds) after a DROP ... IF
-- EXISTS that clears an INVALID index a failed build left.
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;
CREATE INDEX CONCURRENTLY sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS sessions_live;
