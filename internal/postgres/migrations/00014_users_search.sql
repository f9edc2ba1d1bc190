-- +goose NO TRANSACTION
-- +goose Up
-- The administrators' user search by any part of the email, username or
-- full name (issues 21 and 25): a trigram index, so that LIKE '%part%'
-- reads the matching users only, at a million users too. Additions only,
-- so the release before this one keeps working on this schema.
--
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the
-- owner of the database may create it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The indexed text is user.SearchText: each field preceded by chr(1) (a
-- control character, which a search may not contain, so no match spans
-- two fields; "chr(1) || part" finds the start of a field), ASCII letters
-- lowered with translate(), which, unlike lower(), does not depend on the
-- database's collation: the same folding as SQLite and the Memory fake.
-- The expression is postgres.searchText, character for character: the
-- planner uses the index only for the very same expression.
--
-- Built CONCURRENTLY, outside a transaction (see 00012): writes to users
-- go on meanwhile, and a build that failed half-way is rebuilt when the
-- migration runs again.
DROP INDEX CONCURRENTLY IF EXISTS users_search_trgm;
CREATE INDEX CONCURRENTLY users_search_trgm ON users USING gin (
    (translate(chr(1) || email || chr(1) || username || chr(1) || coalesce(full_name, ''), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) gin_trgm_ops);

-- The planner chooses between this index (then sorting the matches) and
-- walking users in listing order until a page is full; it needs to know
-- how rare a match is. ANALYZE keeps statistics of an index's expression;
-- the finer histogram tells a rare part (a person's name) from a common
-- one (a mail domain) much better than the default.
ALTER INDEX users_search_trgm ALTER COLUMN 1 SET STATISTICS 1000;

-- +goose Down
-- The extension stays: dropping it would fail or take others' indexes
-- with it, and it costs nothing unused.
DROP INDEX CONCURRENTLY IF EXISTS users_search_trgm;
