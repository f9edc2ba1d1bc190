-- +goose Up
-- The OpenID provider (issue 23, internal/oidcop). New tables only, so the
-- release before this one keeps working on this schema (docs/deploy.md).
-- Times are TIMESTAMPTZ.
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
    id           TEXT PRIMARY KEY,
    code_hash    BYTEA UNIQUE,
    code_used_at TIMESTAMPTZ,
    data         JSONB NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX oidc_auth_requests_expires_at ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_grants (
    id         TEXT PRIMARY KEY,
    user_id    UUID NOT NULL,
    session_id UUID NOT NULL,
    client_id  TEXT NOT NULL,
    data       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX oidc_grants_user_id ON oidc_grants (user_id);

CREATE TABLE oidc_refresh_tokens (
    hash       BYTEA PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_consents (
    user_id    UUID NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
DROP TABLE IF EXISTS oidc_consents;
DROP TABLE IF EXISTS oidc_refresh_tokens;
DROP TABLE IF EXISTS oidc_grants;
DROP TABLE IF EXISTS oidc_auth_requests;
