-- +goose Up
-- The SQLite twin of the PostgreSQL schema. Differences: id is the UUID's
-- text form; booleans are 0/1; times are UTC RFC 3339 text with milliseconds
-- (which sort and compare as text); VARCHAR(255) becomes a CHECK on length().
-- STRICT makes SQLite refuse values of the wrong type.
CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    email           TEXT NOT NULL CHECK (length(email) <= 255 AND email LIKE '_%@_%._%'),
    username        TEXT NOT NULL CHECK (length(username) <= 255),
    hashed_password TEXT NOT NULL CHECK (length(hashed_password) <= 255),
    full_name       TEXT CHECK (length(full_name) <= 255),
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    token_version   INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Emails and usernames are unique regardless of letter case (they are ASCII,
-- so SQLite's ASCII lower() is exact). Lookups compare lower(col) = lower(?),
-- so these indexes serve them too. The store maps a violation to an error by
-- index name. The username index is created first on purpose: SQLite checks
-- the most recently created index first, so a row that clashes on both
-- reports the email, as on PostgreSQL.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- +goose Down
DROP TABLE IF EXISTS users;
