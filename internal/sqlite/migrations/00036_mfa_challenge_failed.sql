-- +goose Up
-- When a login's second step first got a wrong proof (a code, a recovery
-- code, a passkey), so that the account's owner is told once per login
-- that someone gave the right password and then failed the second step
-- (user.MailSecondStepFailed, user.MFAChallenges.MarkFailed). NULL: none
-- yet, or a challenge of the release before, which never sets it. A
-- nullable column only: the release before keeps working on this schema.
ALTER TABLE mfa_challenges ADD COLUMN failed_at TEXT;

-- +goose Down
ALTER TABLE mfa_challenges DROP COLUMN failed_at;
