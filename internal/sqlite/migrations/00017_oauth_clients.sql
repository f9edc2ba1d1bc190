-- +goose Up
-- The OAuth client registry (issue 23, internal/oauthclient): the
-- applications that obtain tokens, for the password grant's per-client
-- rules, the OpenID provider and service accounts. A new table only, so
-- the release before this one keeps working on this schema
-- (docs/deploy.md). Times are UTC RFC 3339 text with microseconds, so
-- that text order is time order.
--   secret_hash: SHA-256 of a confidential client's generated secret
--   (shown once, never kept); NULL for a public client (auth_method none).
--   redirect_uris, post_logout_redirect_uris, grant_types, scopes: values
--   separated by single spaces (none may contain one), matched exactly.
--   deleted_at: a deleted client keeps its row, so that its id is never
--   reused and its tokens stay refused.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 255),
    name                      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    auth_method               TEXT NOT NULL CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    secret_hash               BLOB,
    redirect_uris             TEXT NOT NULL DEFAULT '',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    grant_types               TEXT NOT NULL CHECK (grant_types <> ''),
    scopes                    TEXT NOT NULL DEFAULT '',
    first_party               INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    deleted_at                TEXT,
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
) STRICT;

CREATE INDEX oauth_clients_listing ON oauth_clients (created_at, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE IF EXISTS oauth_clients;
