package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usersvc/usersvc/internal/signing"
)

// ServiceKey is the SQLite signing.ServiceKeys: the one row of
// service_key.
type ServiceKey struct {
	db *DB
}

var _ signing.ServiceKeys = (*ServiceKey)(nil)

// ServiceKeys returns the store of the sealed service key.
func (s *DB) ServiceKeys() signing.ServiceKeys { return &ServiceKey{db: s} }

// AddServiceKey stores sealed unless a service key is stored: of two
// processes inserting together, one row wins and the other changes
// nothing.
func (k *ServiceKey) AddServiceKey(ctx context.Context, sealed []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `INSERT INTO service_key (id, sealed) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`
	if _, err := k.db.write.ExecContext(ctx, q, sealed); err != nil {
		return translate(err, "add service key")
	}
	return nil
}

// ServiceKey is the stored sealed service key; signing.ErrNoServiceKey
// when none is. It reads on the writer connection, so that it sees an
// AddServiceKey just made.
func (k *ServiceKey) ServiceKey(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `SELECT sealed FROM service_key WHERE id = 1`
	var sealed []byte
	err := k.db.write.QueryRowContext(ctx, q).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, signing.ErrNoServiceKey
	}
	if err != nil {
		return nil, translate(err, "read service key")
	}
	return sealed, nil
}
