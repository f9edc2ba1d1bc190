-- +goose Up
-- When a client's secret was last rotated (NULL: never; UTC RFC 3339 text
-- with microseconds, as the table's other times), so that a service
-- account's access tokens issued before the rotation (perhaps by whoever
-- had the leaked secret) stop working at once, as the secret does. A
-- nullable column only: the release before keeps working on this schema.
ALTER TABLE oauth_clients ADD COLUMN secret_rotated_at TEXT;

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN secret_rotated_at;
