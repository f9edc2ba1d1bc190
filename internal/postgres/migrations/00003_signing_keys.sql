-- +goose Up
-- The keys access tokens are signed with (internal/signing). private_key is
-- the PKCS #8 key sealed with AES-256-GCM under USERSVC_KEY_ENCRYPTION_KEY,
-- never plaintext; public_key is PKIX DER. The newest key of an algorithm
-- signs.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 64),
    alg         TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
    public_key  BYTEA NOT NULL,
    private_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS signing_keys;
