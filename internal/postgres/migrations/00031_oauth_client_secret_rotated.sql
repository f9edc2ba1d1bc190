-- +goose Up
-- When a client's secret was last rotated (NULL: never), so that a service
-- account's access tokens issued before the rotation (perhaps by whoever
-- had the leaked secret) stop working at once, as the secret does. A
-- nullable column only: the release before keeps working on this schema
-- (it neither reads nor writes it; a rotation it makes ends no tokens).
ALTER TABLE oauth_clients ADD COLUMN secret_rotated_at timestamptz;

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN IF EXISTS secret_rotated_at;
