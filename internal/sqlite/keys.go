package sqlite

import (
	"context"
	"database/sql"
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

// keyTime is how the keys' times are written: UTC with microseconds, so
// that text order is time order.
const keyTime = "2006-01-02T15:04:05.000000Z"

// keyTimeText is t as keyTime writes it, or NULL when t is zero.
func keyTimeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(keyTime)
}

// AddKey stores k.
func (k *Keys) AddKey(ctx context.Context, key signing.StoredKey) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at, published_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	_, err := k.db.write.ExecContext(ctx, q, key.ID, key.Alg, key.Public, key.Private,
		key.CreatedAt.UTC().Format(keyTime), keyTimeText(key.PublishedAt))
	if err != nil {
		return translate(err, "add signing key")
	}
	return nil
}

// AddKeyUnlessSince stores key unless a key of its algorithm, not revoked,
// signs from after since: one statement on the single writer connection,
// so concurrent calls take turns.
func (k *Keys) AddKeyUnlessSince(ctx context.Context, key signing.StoredKey, since time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at, published_at)
		SELECT ?, ?, ?, ?, ?, ?
		WHERE NOT EXISTS (
			SELECT 1 FROM signing_keys WHERE alg = ? AND revoked_at IS NULL AND created_at > ?)`
	res, err := k.db.write.ExecContext(ctx, q, key.ID, key.Alg, key.Public, key.Private,
		key.CreatedAt.UTC().Format(keyTime), keyTimeText(key.PublishedAt), key.Alg, since.UTC().Format(keyTime))
	return wroteOne(res, err, "add signing key")
}

// Keys returns every stored key, oldest first.
func (k *Keys) Keys(ctx context.Context) ([]signing.StoredKey, error) {
	const q = `
		SELECT kid, alg, public_key, private_key, created_at, published_at, revoked_at
		FROM signing_keys ORDER BY created_at, kid`
	rows, err := k.db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	defer rows.Close()
	var out []signing.StoredKey
	for rows.Next() {
		var key signing.StoredKey
		var created string
		var published, revoked sql.NullString
		if err := rows.Scan(&key.ID, &key.Alg, &key.Public, &key.Private, &created, &published, &revoked); err != nil {
			return nil, translate(err, "list signing keys")
		}
		if key.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
			return nil, fmt.Errorf("signing key %s: created_at: %w", key.ID, err)
		}
		if key.PublishedAt, err = parseKeyTime(published); err != nil {
			return nil, fmt.Errorf("signing key %s: published_at: %w", key.ID, err)
		}
		if key.RevokedAt, err = parseKeyTime(revoked); err != nil {
			return nil, fmt.Errorf("signing key %s: revoked_at: %w", key.ID, err)
		}
		out = append(out, key)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list signing keys")
	}
	return out, nil
}

// parseKeyTime reads a nullable time column; NULL is the zero time.
func parseKeyTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s.String)
}

// RevokeKey marks the key kid revoked at at.
func (k *Keys) RevokeKey(ctx context.Context, kid string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE signing_keys SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL`
	res, err := k.db.write.ExecContext(ctx, q, at.UTC().Format(keyTime), kid)
	if err != nil {
		return translate(err, "revoke signing key")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, "revoke signing key")
	}
	if n == 0 {
		return signing.ErrNoSuchKey
	}
	return nil
}
