-- +goose Up
-- Account lifecycle: every user has a role ("user" or "admin"; the check
-- lists the roles the service knows, so adding one is a migration) and an
-- email that is verified (1) or not (0). Existing accounts become plain users
-- with an unverified email.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));

-- The last-administrator rule counts administrators; this keeps it cheap.
CREATE INDEX users_role_idx ON users (role) WHERE role <> 'user';

-- +goose Down
DROP INDEX IF EXISTS users_role_idx;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN role;
