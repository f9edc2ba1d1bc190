-- +goose Up
-- The administrators' user search by any part of the email, username or
-- full name (issues 21 and 25); the twin of the PostgreSQL migration. An
-- FTS5 table with the trigram tokenizer holds user.SearchText of every user
-- (each field preceded by char(1), which a search may not contain, so no
-- match spans two fields), kept in step with users by triggers, so that
-- the release before this one, which knows nothing of it, keeps it right
-- too. It is contentless (the text is in users) and its rows are deleted
-- by rowid.
--
-- The rowid of users is not stable (VACUUM may renumber a table whose key
-- is not an INTEGER PRIMARY KEY), so users_search_rows gives each user a
-- row number of its own, the rowid of its text in users_search.
CREATE TABLE users_search_rows (
    row     INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
) STRICT;

CREATE VIRTUAL TABLE users_search USING fts5 (
    doc, tokenize = 'trigram', content = '', contentless_delete = 1
);

INSERT INTO users_search_rows (user_id) SELECT id FROM users ORDER BY created_at, id;
INSERT INTO users_search (rowid, doc)
    SELECT r.row, char(1) || u.email || char(1) || u.username || char(1) || coalesce(u.full_name, '')
    FROM users_search_rows r JOIN users u ON u.id = r.user_id;

-- +goose StatementBegin
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search_rows (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, doc)
        SELECT row, char(1) || new.email || char(1) || new.username || char(1) || coalesce(new.full_name, '')
        FROM users_search_rows WHERE user_id = new.id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_search_update AFTER UPDATE OF email, username, full_name ON users BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT row FROM users_search_rows WHERE user_id = old.id);
    INSERT INTO users_search (rowid, doc)
        SELECT row, char(1) || new.email || char(1) || new.username || char(1) || coalesce(new.full_name, '')
        FROM users_search_rows WHERE user_id = new.id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT row FROM users_search_rows WHERE user_id = old.id);
    DELETE FROM users_search_rows WHERE user_id = old.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS users_search_delete;
DROP TRIGGER IF EXISTS users_search_update;
DROP TRIGGER IF EXISTS users_search_insert;
DROP TABLE IF EXISTS users_search;
DROP TABLE IF EXISTS users_search_rows;
