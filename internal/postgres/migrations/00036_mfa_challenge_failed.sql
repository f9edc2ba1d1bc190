-- +goose Up
-- When a login's second step first got a wrong proof (a code, a recovery
-- code, a passkey), so that the account's owner is told once per login
-- that someone gave the right password and then failed the second step
-- (user.MailSecondStepFailed, user.MFAChallenges.MarkFailed). NULL: none
-- yet, or a challenge of the release before, which never sets it. A
-- nullable column only, added without a rewrite: the release before keeps
-- working on this schema (it neither reads nor writes it).
SET LOCAL lock_timeout = '5s';
ALTER TABLE mfa_challenges ADD COLUMN failed_at TIMESTAMPTZ;

-- +goose Down
SET LOCAL lock_timeout = '5s';
ALTER TABLE mfa_challenges DROP COLUMN IF EXISTS failed_at;
