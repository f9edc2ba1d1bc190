-- +goose Up
-- While an email change's undo link is usable, its old address stays the
-- account's (EmailChanges.Held): the twin of the PostgreSQL migration.
-- Every registration and change of address asked it through a scan of
-- the changes whose undo window is open; this index answers it from the
-- address (lower(old_email), the expression Held compares; its WHERE
-- repeats used_at IS NULL word for word, which is how SQLite proves that
-- the partial index holds every row it asks for).
CREATE INDEX IF NOT EXISTS email_changes_held ON email_changes (lower(old_email)) WHERE used_at IS NULL;

-- +goose Down
DROP INDEX IF EXISTS email_changes_held;
