-- +goose NO TRANSACTION
-- +goose Up
-- While an email change's undo link is usable, its old address stays the
-- account's (EmailChanges.Held): every registration and every change of
-- address asks whether another account's undo holds the address it wants.
-- The question was answered through email_changes_expires_at, reading
-- every change whose undo window is still open (7 days of changes) and
-- comparing each old address: its cost grew with the changes of the last
-- week, on the registration path. This index answers it from the
-- address: the changes not yet undone, by lower(old_email), the
-- expression Held compares (its WHERE repeats used_at IS NULL word for
-- word, which is how the planner proves the partial index holds every row
-- it asks for).
--
-- Built CONCURRENTLY, on its own outside a transaction, a DROP ... IF
-- EXISTS first so that a build that failed half-way (an INVALID index) is
-- rebuilt when the migration runs again (as in 00022). The previous
-- release runs the same query: it reads the new index too.
DROP INDEX CONCURRENTLY IF EXISTS email_changes_held;
CREATE INDEX CONCURRENTLY email_changes_held ON email_changes (lower(old_email)) WHERE used_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS email_changes_held;
