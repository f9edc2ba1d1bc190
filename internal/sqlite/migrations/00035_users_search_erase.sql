-- +goose Up
-- The search index of 00014 forgets a deleted account, and an account's
-- old email, name or username, at once. 00014's index is contentless: a
-- delete there only marks the row deleted, and the deleted text's
-- trigrams, with their positions, stay in the index's segments
-- (users_search_data) until FTS5 happens to merge them, on a quiet
-- database perhaps never. FTS5's secure-delete removes a deleted row's
-- entries from the segments, but needs the deleted text to find them,
-- which a contentless table does not keep.
--
-- So users_search becomes an external-content table over the view
-- users_search_docs, each user's text as user.SearchText writes it, drawn
-- from users (no second copy of it is kept), with secure-delete on. The
-- triggers give FTS5 the old text ('delete') before the row or its text
-- goes; 'rebuild' fills the new index from the view, so nothing of the old
-- one is left (its pages are zeroed as the table is dropped: secure_delete
-- is on for every connection). columnsize = 0: nothing reads the sizes
-- a docsize table would keep. The names the searches read (users_search,
-- its rowid, users_search_rows) are unchanged, and the triggers keep the
-- index right whatever release writes users.
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;

CREATE VIEW users_search_docs (row, doc) AS
    SELECT r.row, char(1) || u.email || char(1) || u.username || char(1) || coalesce(u.full_name, '')
    FROM users_search_rows r JOIN users u ON u.id = r.user_id;

CREATE VIRTUAL TABLE users_search USING fts5 (
    doc, tokenize = 'trigram', content = 'users_search_docs', content_rowid = 'row', columnsize = 0
);
INSERT INTO users_search (users_search, rank) VALUES ('secure-delete', 1);
INSERT INTO users_search (users_search) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search_rows (user_id) VALUES (new.id);
    INSERT INTO users_search (rowid, doc)
        SELECT row, char(1) || new.email || char(1) || new.username || char(1) || coalesce(new.full_name, '')
        FROM users_search_rows WHERE user_id = new.id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_search_update AFTER UPDATE OF email, username, full_name ON users
WHEN old.email IS NOT new.email OR old.username IS NOT new.username OR old.full_name IS NOT new.full_name BEGIN
    INSERT INTO users_search (users_search, rowid, doc)
        SELECT 'delete', row, char(1) || old.email || char(1) || old.username || char(1) || coalesce(old.full_name, '')
        FROM users_search_rows WHERE user_id = old.id;
    INSERT INTO users_search (rowid, doc)
        SELECT row, char(1) || new.email || char(1) || new.username || char(1) || coalesce(new.full_name, '')
        FROM users_search_rows WHERE user_id = new.id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, doc)
        SELECT 'delete', row, char(1) || old.email || char(1) || old.username || char(1) || coalesce(old.full_name, '')
        FROM users_search_rows WHERE user_id = old.id;
    DELETE FROM users_search_rows WHERE user_id = old.id;
END;
-- +goose StatementEnd

-- +goose Down
-- 00014's contentless index, filled again from users.
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
DROP VIEW users_search_docs;

CREATE VIRTUAL TABLE users_search USING fts5 (
    doc, tokenize = 'trigram', content = '', contentless_delete = 1
);
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
