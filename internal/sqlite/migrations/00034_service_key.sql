-- +goose Up
-- The service key, stored sealed under the key-encryption key: the twin
-- of the PostgreSQL migration (one row, id 1; a new table only, which the
-- release before neither reads nor writes).
CREATE TABLE service_key (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    sealed     BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- +goose Down
DROP TABLE IF EXISTS service_key;
