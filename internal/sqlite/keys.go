package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/usersvc/usersvc/internal/signing"
)

// Keys is the SQLite signing.Repository, on the same database as the user
// stores.
type Keys struct {
	db *DB
}

var _ signing.Repository = (*Keys)(nil)

// SigningKeys returns the store of token signing keys.
func (s *DB) SigningKeys() signing.Repository { return &Keys{db: s} }

// keyTime is how created_at is written: UTC with microseconds, so that text
// order is time order.
const keyTime = "2006-01-02T15:04:05.000000Z"

// AddKey stores k.
func (k *Keys) AddKey(ctx context.Context, key signing.StoredKey) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at)
		VALUES (?, ?, ?, ?, ?)`
	_, err := k.db.write.ExecContext(ctx, q, key.ID, key.Alg, key.Public, key.Private, key.CreatedAt.UTC().Format(keyTime))
	if err != nil {
		return translate(err, "add signing key")
	}
	return nil
}

// Keys returns every stored key, oldest first.
func (k *Keys) Keys(ctx context.Context) ([]signing.StoredKey, error) {
	const q = `SELECT kid, alg, public_key, private_key, created_at FROM signing_keys ORDER BY created_at, kid`
	rows, err := k.db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	defer rows.Close()
	var out []signing.StoredKey
	for rows.Next() {
		var key signing.StoredKey
		var created string
		if err := rows.Scan(&key.ID, &key.Alg, &key.Public, &key.Private, &created); err != nil {
			return nil, translate(err, "list signing keys")
		}
		if key.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
			return nil, fmt.Errorf("signing key %s: created_at: %w", key.ID, err)
		}
		out = append(out, key)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list signing keys")
	}
	return out, nil
}
