-- +goose Up
-- Account lifecycle: every user has a role ("user" or "admin"; the check
-- lists the roles the service knows, so adding one is a migration) and an
-- email that is verified or not. Existing accounts keep working: they become
-- plain users with an unverified email.
ALTER TABLE users
    ADD COLUMN role VARCHAR(32) NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- The last-administrator rule counts administrators; this keeps it cheap.
CREATE INDEX users_role_idx ON users (role) WHERE role <> 'user';

-- +goose Down
DROP INDEX IF EXISTS users_role_idx;
ALTER TABLE users DROP COLUMN email_verified, DROP COLUMN role;
