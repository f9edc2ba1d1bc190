package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// Passkeys returns the stores of passkeys and their ceremonies
// (migrations/00016_passkeys.sql).
func (s *DB) Passkeys() passkey.Stores {
	return passkey.Stores{Passkeys: &Passkeys{conn{db: s, q: s.pool}}, Ceremonies: &Ceremonies{s}, In: s.passkeysIn}
}

// Passkeys is the PostgreSQL passkey.Store, on the pool or on Atomic's
// transaction (passkeysIn).
type Passkeys struct{ c conn }

// Ceremonies is the PostgreSQL passkey.Ceremonies.
type Ceremonies struct{ db *DB }

var (
	_ passkey.Store      = (*Passkeys)(nil)
	_ passkey.Ceremonies = (*Ceremonies)(nil)
)

//nolint:gosec // column names, no credential
const passkeyColumns = `id, user_id, credential_id, name, record, sign_count, amr, created_at, last_used_at`

func scanPasskey(row pgx.Row) (passkey.Passkey, error) {
	var p passkey.Passkey
	var used *time.Time
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Record, &p.SignCount, &p.AMR, &p.CreatedAt, &used); err != nil {
		return passkey.Passkey{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	if used != nil {
		p.LastUsedAt = used.UTC()
	}
	return p, nil
}

// passkeysIn is the passkey store on the transaction of tx, the Stores
// Transactor.Atomic of this database gave (wrapped or not): a passkey
// change goes in one transaction with its audit event and its event.
func (s *DB) passkeysIn(tx user.Stores) (passkey.Store, error) {
	c, ok := connOf(tx.Tx)
	if !ok || c.db != s {
		return nil, errors.New("postgres: passkeys on a transaction of another store")
	}
	return &Passkeys{c}, nil
}

// translatePasskey maps no row to passkey.ErrNotFound, a duplicate
// credential id to passkey.ErrTaken, and wraps the rest.
func translatePasskey(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return passkey.ErrNotFound
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == uniqueViolation {
		return passkey.ErrTaken
	}
	return translate(err, op)
}

// Create stores p.
func (s *Passkeys) Create(ctx context.Context, p passkey.Passkey) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `INSERT INTO passkeys (` + passkeyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err := s.c.execUndoable(ctx, q, p.ID, p.UserID, p.CredentialID, p.Name, p.Record, p.SignCount, p.AMR, p.CreatedAt, nullTime(p.LastUsedAt))
	return translatePasskey(err, "create passkey")
}

// ByUser returns userID's passkeys, oldest first.
func (s *Passkeys) ByUser(ctx context.Context, userID uuid.UUID) ([]passkey.Passkey, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`
	rows, err := s.c.q.Query(ctx, q, userID)
	if err != nil {
		return nil, translate(err, "list passkeys")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (passkey.Passkey, error) { return scanPasskey(r) })
	if err != nil {
		return nil, translate(err, "list passkeys")
	}
	return out, nil
}

// ByCredentialID returns the passkey of credentialID.
func (s *Passkeys) ByCredentialID(ctx context.Context, credentialID []byte) (passkey.Passkey, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE credential_id = $1`
	p, err := scanPasskey(s.c.q.QueryRow(ctx, q, credentialID))
	return p, translatePasskey(err, "read passkey")
}

// Rename sets the name of userID's passkey id.
func (s *Passkeys) Rename(ctx context.Context, userID, id uuid.UUID, name string) (passkey.Passkey, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2 RETURNING ` + passkeyColumns
	p, err := scanPasskey(s.c.q.QueryRow(ctx, q, id, userID, name))
	return p, translatePasskey(err, "rename passkey")
}

// Delete removes userID's passkey id.
func (s *Passkeys) Delete(ctx context.Context, userID, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	tag, err := s.c.q.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return translate(err, "delete passkey")
	}
	if tag.RowsAffected() == 0 {
		return passkey.ErrNotFound
	}
	return nil
}

// Used stores p's record, counter and last use when its counter is still
// prev, in one statement.
func (s *Passkeys) Used(ctx context.Context, p passkey.Passkey, prev int64) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE passkeys SET record = $3, sign_count = $4, last_used_at = $5
		WHERE id = $1 AND user_id = $2 AND sign_count = $6`
	tag, err := s.c.q.Exec(ctx, q, p.ID, p.UserID, p.Record, p.SignCount, p.LastUsedAt, prev)
	if err != nil {
		return translate(err, "use passkey")
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		err := s.c.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1 AND user_id = $2)`, p.ID, p.UserID).Scan(&exists)
		if err != nil {
			return translate(err, "use passkey")
		}
		if !exists {
			return passkey.ErrNotFound
		}
		return passkey.ErrStale
	}
	return nil
}

// Put stores c and removes the ceremonies expired at now.
func (s *Ceremonies) Put(ctx context.Context, c passkey.Ceremony, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at <= $1`, now); err != nil {
		return translate(err, "purge webauthn ceremonies")
	}
	const q = `
		INSERT INTO webauthn_ceremonies (hash, kind, user_id, session_id, data, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := s.db.pool.Exec(ctx, q, c.Hash, c.Kind, c.UserID, c.SessionID, c.Data, c.ExpiresAt); err != nil {
		return translate(err, "store webauthn ceremony")
	}
	return nil
}

// Take deletes the ceremony of hash and returns it, when it has not
// expired at now, in one statement: of concurrent takes, one gets it.
func (s *Ceremonies) Take(ctx context.Context, hash []byte, now time.Time) (passkey.Ceremony, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		DELETE FROM webauthn_ceremonies WHERE hash = $1
		RETURNING hash, kind, user_id, session_id, data, expires_at`
	var c passkey.Ceremony
	err := s.db.pool.QueryRow(ctx, q, hash).Scan(&c.Hash, &c.Kind, &c.UserID, &c.SessionID, &c.Data, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return passkey.Ceremony{}, passkey.ErrCeremony
	}
	if err != nil {
		return passkey.Ceremony{}, translate(err, "take webauthn ceremony")
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	if !now.Before(c.ExpiresAt) {
		return passkey.Ceremony{}, passkey.ErrCeremony
	}
	return c, nil
}
