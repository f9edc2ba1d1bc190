package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/signing"
)

// Keys is the PostgreSQL signing.Repository, on the same pool as the user
// stores.
type Keys struct {
	db *DB
}

var _ signing.Repository = (*Keys)(nil)

// keyRotationLockID is the key of the transaction-level advisory lock that
// serialises scheduled rotations (AddKeyUnlessSince) on one database. It
// only has to differ from the other advisory locks (migrationLockID).
const keyRotationLockID int64 = 0x7573657273766332 // "usersvc2"

// SigningKeys returns the store of token signing keys.
func (s *DB) SigningKeys() signing.Repository { return &Keys{db: s} }

// nullTime is t, or NULL when t is zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AddKey stores k.
func (k *Keys) AddKey(ctx context.Context, key signing.StoredKey) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at, published_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := k.db.pool.Exec(ctx, q, key.ID, key.Alg, key.Public, key.Private, key.CreatedAt, nullTime(key.PublishedAt)); err != nil {
		return translate(err, "add signing key")
	}
	return nil
}

// AddKeyUnlessSince stores key unless a key of its algorithm, not revoked,
// signs from after since. The advisory lock makes concurrent calls take
// turns, and each one's insert sees the rows of those before it.
func (k *Keys) AddKeyUnlessSince(ctx context.Context, key signing.StoredKey, since time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO signing_keys (kid, alg, public_key, private_key, created_at, published_at)
		SELECT $1, $2, $3, $4, $5, $6
		WHERE NOT EXISTS (
			SELECT 1 FROM signing_keys WHERE alg = $2 AND revoked_at IS NULL AND created_at > $7)`
	var stored bool
	err := pgx.BeginFunc(ctx, k.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keyRotationLockID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, q, key.ID, key.Alg, key.Public, key.Private, key.CreatedAt, nullTime(key.PublishedAt), since)
		stored = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, translate(err, "add signing key")
	}
	return stored, nil
}

// Keys returns every stored key, oldest first.
func (k *Keys) Keys(ctx context.Context) ([]signing.StoredKey, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT kid, alg, public_key, private_key, created_at, published_at, revoked_at
		FROM signing_keys ORDER BY created_at, kid`
	rows, err := k.db.pool.Query(ctx, q)
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (signing.StoredKey, error) {
		var key signing.StoredKey
		var published, revoked *time.Time
		err := row.Scan(&key.ID, &key.Alg, &key.Public, &key.Private, &key.CreatedAt, &published, &revoked)
		if published != nil {
			key.PublishedAt = *published
		}
		if revoked != nil {
			key.RevokedAt = *revoked
		}
		return key, err
	})
	if err != nil {
		return nil, translate(err, "list signing keys")
	}
	return keys, nil
}

// RevokeKey marks the key kid revoked at at.
func (k *Keys) RevokeKey(ctx context.Context, kid string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE signing_keys SET revoked_at = $2 WHERE kid = $1 AND revoked_at IS NULL`
	tag, err := k.db.pool.Exec(ctx, q, kid, at)
	if err != nil {
		return translate(err, "revoke signing key")
	}
	if tag.RowsAffected() == 0 {
		return signing.ErrNoSuchKey
	}
	return nil
}
