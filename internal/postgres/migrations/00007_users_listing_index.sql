-- +goose Up
-- The administrators' listing pages through users in (created_at, id)
-- order, by key: this index serves each page as a range scan.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

-- +goose Down
DROP INDEX IF EXISTS users_created_at_id_idx;
