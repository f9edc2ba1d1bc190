package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// Passkeys returns the stores of passkeys and their ceremonies
// (migrations/00016_passkeys.sql).
func (s *DB) Passkeys() passkey.Stores {
	return passkey.Stores{Passkeys: &Passkeys{conn{db: s}}, Ceremonies: &Ceremonies{s}, In: s.passkeysIn}
}

// Passkeys is the SQLite passkey.Store, on the database or on Atomic's
// transaction (passkeysIn).
type Passkeys struct{ c conn }

// Ceremonies is the SQLite passkey.Ceremonies.
type Ceremonies struct{ db *DB }

var (
	_ passkey.Store      = (*Passkeys)(nil)
	_ passkey.Ceremonies = (*Ceremonies)(nil)
)

//nolint:gosec // column names, no credential
const passkeyColumns = `id, user_id, credential_id, name, record, sign_count, amr, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }) (passkey.Passkey, error) {
	var p passkey.Passkey
	var created string
	var used sql.NullString
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Record, &p.SignCount, &p.AMR, &created, &used); err != nil {
		return passkey.Passkey{}, err
	}
	if err := parseTS(created, &p.CreatedAt); err != nil {
		return passkey.Passkey{}, err
	}
	return p, parseTS(used.String, &p.LastUsedAt)
}

// passkeysIn is the passkey store on the transaction of tx, the Stores
// Transactor.Atomic of this database gave (wrapped or not): a passkey
// change goes in one transaction with its audit event and its event.
func (s *DB) passkeysIn(tx user.Stores) (passkey.Store, error) {
	c, ok := connOf(tx.Tx)
	if !ok || c.db != s {
		return nil, errors.New("sqlite: passkeys on a transaction of another store")
	}
	return &Passkeys{c}, nil
}

// translatePasskey maps no row to passkey.ErrNotFound, a duplicate
// credential id to passkey.ErrTaken, and wraps the rest.
func translatePasskey(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return passkey.ErrNotFound
	}
	if e, ok := errors.AsType[*modernc.Error](err); ok && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return passkey.ErrTaken
	}
	return translate(err, op)
}

// Create stores p.
func (s *Passkeys) Create(ctx context.Context, p passkey.Passkey) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `INSERT INTO passkeys (` + passkeyColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.c.exec(ctx, q, p.ID, p.UserID, p.CredentialID, p.Name, p.Record, p.SignCount, p.AMR,
		ts(p.CreatedAt), nullTS(p.LastUsedAt))
	return translatePasskey(err, "create passkey")
}

// ByUser returns userID's passkeys, oldest first.
func (s *Passkeys) ByUser(ctx context.Context, userID uuid.UUID) ([]passkey.Passkey, error) {
	const q = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`
	rows, err := s.c.readRows(ctx, q, userID)
	if err != nil {
		return nil, translate(err, "list passkeys")
	}
	defer func() { _ = rows.Close() }()
	var out []passkey.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, translate(err, "list passkeys")
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list passkeys")
	}
	return out, nil
}

// ByCredentialID returns the passkey of credentialID.
func (s *Passkeys) ByCredentialID(ctx context.Context, credentialID []byte) (passkey.Passkey, error) {
	const q = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE credential_id = ?`
	p, err := scanPasskey(s.c.readRow(ctx, q, credentialID))
	return p, translatePasskey(err, "read passkey")
}

// Rename sets the name of userID's passkey id.
func (s *Passkeys) Rename(ctx context.Context, userID, id uuid.UUID, name string) (passkey.Passkey, error) {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ? RETURNING ` + passkeyColumns
	p, err := scanPasskey(s.c.writeRow(ctx, q, name, id, userID))
	return p, translatePasskey(err, "rename passkey")
}

// Delete removes userID's passkey id.
func (s *Passkeys) Delete(ctx context.Context, userID, id uuid.UUID) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	res, err := s.c.exec(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return translate(err, "delete passkey")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(passkey.ErrNotFound, err)
	}
	return nil
}

// Used stores p's record, counter and last use when its counter is still
// prev, in one statement on the single writer.
func (s *Passkeys) Used(ctx context.Context, p passkey.Passkey, prev int64) error {
	ctx, cancel := s.c.wait(ctx)
	defer cancel()
	const q = `
		UPDATE passkeys SET record = ?, sign_count = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND sign_count = ?`
	res, err := s.c.exec(ctx, q, p.Record, p.SignCount, ts(p.LastUsedAt), p.ID, p.UserID, prev)
	if err != nil {
		return translate(err, "use passkey")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, "use passkey")
	}
	if n > 0 {
		return nil
	}
	var exists bool
	err = s.c.writeRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = ? AND user_id = ?)`, p.ID, p.UserID).Scan(&exists)
	if err != nil {
		return translate(err, "use passkey")
	}
	if !exists {
		return passkey.ErrNotFound
	}
	return passkey.ErrStale
}

// Put stores c and removes the ceremonies expired at now.
func (s *Ceremonies) Put(ctx context.Context, c passkey.Ceremony, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	if _, err := s.db.write.ExecContext(ctx, `DELETE FROM webauthn_ceremonies WHERE expires_at <= ?`, ts(now)); err != nil {
		return translate(err, "purge webauthn ceremonies")
	}
	const q = `
		INSERT INTO webauthn_ceremonies (hash, kind, user_id, session_id, data, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := s.db.write.ExecContext(ctx, q, c.Hash, c.Kind, c.UserID, c.SessionID, c.Data, ts(c.ExpiresAt)); err != nil {
		return translate(err, "store webauthn ceremony")
	}
	return nil
}

// Take deletes the ceremony of hash and returns it, when it has not
// expired at now, in one statement on the single writer.
func (s *Ceremonies) Take(ctx context.Context, hash []byte, now time.Time) (passkey.Ceremony, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `
		DELETE FROM webauthn_ceremonies WHERE hash = ?
		RETURNING hash, kind, user_id, session_id, data, expires_at`
	var c passkey.Ceremony
	var expires string
	err := s.db.write.QueryRowContext(ctx, q, hash).Scan(&c.Hash, &c.Kind, &c.UserID, &c.SessionID, &c.Data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return passkey.Ceremony{}, passkey.ErrCeremony
	}
	if err != nil {
		return passkey.Ceremony{}, translate(err, "take webauthn ceremony")
	}
	if err := parseTS(expires, &c.ExpiresAt); err != nil {
		return passkey.Ceremony{}, err
	}
	if !now.Before(c.ExpiresAt) {
		return passkey.Ceremony{}, passkey.ErrCeremony
	}
	return c, nil
}
