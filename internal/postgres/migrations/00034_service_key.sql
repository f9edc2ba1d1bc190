-- +goose Up
-- The service key (the key recovery-code hashes, device tokens, refresh
-- tokens' successors, OpenID codes and the pages' cookie are keyed by),
-- stored sealed under the key-encryption key (AES-256-GCM) so that the
-- key-encryption key can change without changing it. Earlier releases
-- derived it from the key-encryption key at each start; this release
-- stores that same value at its first start (one row, id 1: replicas
-- starting together insert if absent and read back the one stored). A
-- new table only: the release before neither reads nor writes it, and
-- derives the same key as long as the key-encryption key is unchanged.
CREATE TABLE service_key (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    sealed     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS service_key;
