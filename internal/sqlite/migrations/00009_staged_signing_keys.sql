-- +goose Up
-- Staged key rotation (issue 19). Additions only, so the release before
-- this one keeps working on this schema (docs/deploy.md). created_at keeps
-- its meaning, when the key becomes the signing key (the newest whose time
-- has come signs), and may now lie in the future: a staged key is published
-- in the JWKS from published_at on and signs from created_at. The release
-- before signs with the newest key at once, as it always did, and verifies
-- every key, so a mixed deployment still accepts every token. Times are
-- UTC RFC 3339 text with microseconds, as created_at.
--   published_at: when the key entered the JWKS (NULL: created_at).
--   revoked_at: when the key was withdrawn at once, a compromised key
--   (NULL: never); the release before ignores it.
ALTER TABLE signing_keys ADD COLUMN published_at TEXT;
ALTER TABLE signing_keys ADD COLUMN revoked_at TEXT;

-- +goose Down
-- A revoked key must not come back for the release before, which would
-- trust it again: its row goes.
DELETE FROM signing_keys WHERE revoked_at IS NOT NULL;
ALTER TABLE signing_keys DROP COLUMN revoked_at;
ALTER TABLE signing_keys DROP COLUMN published_at;
