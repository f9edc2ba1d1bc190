package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/signing"
)

// Keys is the PostgreSQL signing.Repository, on the same pool as the user
// stores.
type Keys struct {
	db *DB
}

var _ signing.Repository = (*Keys)(nil)

// SigningKeys returns the store of token signing keys.
func (s *DB) SigningKeys() signing.Repository { return &Keys{db: s} }

// AddKey stores k.
func (k *Keys) AddKey(ctx context.Context, key signing.StoredKey) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at)
		VALUES ($1, $2, $3, $4, $5)`
	if _, err := k.db.pool.Exec(ctx, q, key.ID, key.Alg, key.Public, key.Private, key.CreatedAt); err != nil {
		return translate(err, "add signing key")
	}
	return nil
}

// Keys returns every stored key, oldest first.
func (k *Keys) Keys(ctx context.Context) ([]signing.StoredKey, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT kid, alg, public_key, private_key, created_at FROM signing_keys ORDER BY created_at, kid`
	rows, err := k.db.pool.Query(ctx, q)
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (signing.StoredKey, error) {
		var key signing.StoredKey
		err := row.Scan(&key.ID, &key.Alg, &key.Public, &key.Private, &key.CreatedAt)
		return key, err
	})
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	return keys, nil
}
