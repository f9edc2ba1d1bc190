-- +goose Up
-- Each account's live sessions (issue 25): every login counts them to end
-- the oldest beyond the cap (Sessions.RevokeOldest) and the sessions list
-- pages through them (Sessions.Active). Through sessions_user_id alone
-- that reads every session the account ever had; this partial index holds
-- only the sessions not revoked, by account and expiry. An index only, so
-- the release before this one keeps working on this schema.
CREATE INDEX sessions_live ON sessions (user_id, expires_at) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX IF EXISTS sessions_live;
