-- +goose Up
-- The OpenID provider (issue 23, internal/oidcop). New tables only, so the
-- release before this one keeps working on this schema (docs/deploy.md).
-- Times are UTC RFC 3339 text with microseconds (text order is time order).
--   oidc_auth_requests: one /oauth/authorize request through sign-in and
--   consent to its code; data is the request as JSON; code_hash is the
--   SHA-256 of its code (never the code), code_used_at its single use.
--   oidc_grants: what one exchanged code gave a client (data as JSON);
--   revoked_at ends every token of it.
--   oidc_refresh_tokens: SHA-256 hashes of a grant's refresh tokens; a
--   used one is kept, marked, so that its reuse revokes the grant.
--   oidc_consents: the scopes a user allowed a third-party client
--   (space separated).
CREATE TABLE oidc_auth_requests (
    id           TEXT PRIMARY KEY NOT NULL,
    code_hash    BLOB UNIQUE,
    code_used_at TEXT,
    data         TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;
CREATE INDEX oidc_auth_requests_expires_at ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_grants (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    session_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX oidc_grants_user_id ON oidc_grants (user_id);

CREATE TABLE oidc_refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

-- +goose Down
DROP TABLE IF EXISTS oidc_consents;
DROP TABLE IF EXISTS oidc_refresh_tokens;
DROP TABLE IF EXISTS oidc_grants;
DROP TABLE IF EXISTS oidc_auth_requests;
