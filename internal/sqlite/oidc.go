package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/user"
)

// OIDC returns the OpenID provider's stores (migrations/00020_oidc.sql).
func (s *DB) OIDC() oidcop.Stores {
	return oidcop.Stores{Grants: &OIDCGrants{s}, Consents: &OIDCConsents{s}, Retention: &OIDCGrants{s}, In: s.withdrawalIn}
}

// OIDCWithdrawal is the SQLite oidcop.Withdrawal, on the writer or on
// Atomic's transaction (withdrawalIn).
type OIDCWithdrawal struct{ c conn }

// withdrawalIn is the withdrawal on the transaction of tx, the Stores
// Transactor.Atomic of this database gave (wrapped or not): a consent
// taken back goes in one transaction with its audit event and its event.
func (s *DB) withdrawalIn(tx user.Stores) (oidcop.Withdrawal, error) {
	c, ok := connOf(tx.Tx)
	if !ok || c.db != s {
		return nil, errors.New("sqlite: consents on a transaction of another store")
	}
	return &OIDCWithdrawal{c}, nil
}

// OIDCGrants is the SQLite oidcop.Grants.
type OIDCGrants struct{ db *DB }

// OIDCConsents is the SQLite oidcop.Consents.
type OIDCConsents struct{ db *DB }

var (
	_ oidcop.Grants     = (*OIDCGrants)(nil)
	_ oidcop.Retention  = (*OIDCGrants)(nil)
	_ oidcop.Consents   = (*OIDCConsents)(nil)
	_ oidcop.Withdrawal = (*OIDCWithdrawal)(nil)
)

// translateOIDC maps no row to oidcop.ErrNotFound and wraps the rest.
func translateOIDC(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return oidcop.ErrNotFound
	}
	return translate(err, op)
}

// SaveAuthRequest stores r, replacing the request of r.ID unless that has
// another code hash (ErrCodeIssued), its code was used (ErrCodeUsed), or
// it is done and r brings no code (ErrRequestDone): the fence is the
// stored request's own done flag.
func (s *OIDCGrants) SaveAuthRequest(ctx context.Context, r oidcop.AuthRequest) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save auth request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `INSERT INTO oidc_auth_requests (id, code_hash, data, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET code_hash = excluded.code_hash, data = excluded.data, expires_at = excluded.expires_at
		WHERE oidc_auth_requests.code_used_at IS NULL
		AND (oidc_auth_requests.code_hash IS NULL OR oidc_auth_requests.code_hash = excluded.code_hash)
		AND (excluded.code_hash IS NOT NULL OR NOT coalesce(json_extract(oidc_auth_requests.data, '$.done'), 0))`
	res, err := s.db.write.ExecContext(ctx, q, r.ID, r.CodeHash, string(data), hookTime(r.ExpiresAt))
	if err != nil {
		return translateOIDC(err, "save auth request")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("save auth request: %w", err)
	}
	if n == 0 {
		return s.refusedSave(ctx, r.ID, r.CodeHash)
	}
	return nil
}

// refusedSave says why the guarded save of request id with codeHash
// changed nothing: oidcop.WhySaveRefused of the request as stored.
func (s *OIDCGrants) refusedSave(ctx context.Context, id string, codeHash []byte) error {
	var f oidcop.RequestFence
	const q = `SELECT code_used_at IS NOT NULL, code_hash, coalesce(json_extract(data, '$.done'), 0) FROM oidc_auth_requests WHERE id = ?`
	if err := s.db.write.QueryRowContext(ctx, q, id).Scan(&f.CodeUsed, &f.CodeHash, &f.Done); err != nil {
		return translateOIDC(err, "save auth request")
	}
	if err := oidcop.WhySaveRefused(f, codeHash); err != nil {
		return err
	}
	// Only if the guard and the rule disagreed (a refusal, once made,
	// stays one): the save changed nothing all the same, and done is the
	// guard's last reason.
	return fmt.Errorf("save auth request %s: %w", id, oidcop.ErrRequestDone)
}

// AuthRequest returns the request id.
func (s *OIDCGrants) AuthRequest(ctx context.Context, id string) (oidcop.AuthRequest, error) {
	const q = `SELECT data, code_hash FROM oidc_auth_requests WHERE id = ?`
	return scanAuthRequest(s.db.read.QueryRowContext(ctx, q, id), "read auth request")
}

func scanAuthRequest(row *sql.Row, op string) (oidcop.AuthRequest, error) {
	var data string
	var hash []byte
	if err := row.Scan(&data, &hash); err != nil {
		return oidcop.AuthRequest{}, translateOIDC(err, op)
	}
	var r oidcop.AuthRequest
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return oidcop.AuthRequest{}, fmt.Errorf("%s: %w", op, err)
	}
	r.CodeHash = hash
	return r, nil
}

// UseCode marks the code of codeHash used, stores g and names it on the
// request, in one transaction on the single writer: of concurrent uses,
// one updates the row, and the others find g named.
func (s *OIDCGrants) UseCode(ctx context.Context, codeHash []byte, g oidcop.Grant) (oidcop.AuthRequest, error) {
	data, err := json.Marshal(g)
	if err != nil {
		return oidcop.AuthRequest{}, fmt.Errorf("use code: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	var r oidcop.AuthRequest
	err = conn{db: s.db}.inTx(ctx, func(tx *sql.Tx) error {
		const use = `UPDATE oidc_auth_requests SET code_used_at = ?, data = json_set(data, '$.grant_id', ?)
			WHERE code_hash = ? AND code_used_at IS NULL RETURNING data, code_hash`
		var err error
		if r, err = scanAuthRequest(tx.QueryRowContext(ctx, use, hookTime(g.CreatedAt), g.ID, codeHash), "use code"); err != nil {
			return err
		}
		return saveGrant(ctx, tx, g, data)
	})
	if !errors.Is(err, oidcop.ErrNotFound) {
		return r, translateOIDC(err, "use code")
	}
	const used = `SELECT data, code_hash FROM oidc_auth_requests WHERE code_hash = ?`
	if r, err = scanAuthRequest(s.db.write.QueryRowContext(ctx, used, codeHash), "use code"); err != nil {
		return oidcop.AuthRequest{}, err
	}
	return r, oidcop.ErrCodeUsed
}

// SaveGrant stores g, replacing the grant of g.ID.
func (s *OIDCGrants) SaveGrant(ctx context.Context, g oidcop.Grant) error {
	data, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("save grant: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	return translateOIDC(saveGrant(ctx, s.db.write, g, data), "save grant")
}

// execer is the writer or a transaction on it.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// saveGrant stores g, whose JSON is data, on q.
func saveGrant(ctx context.Context, q execer, g oidcop.Grant, data []byte) error {
	const insert = `INSERT INTO oidc_grants (id, user_id, session_id, client_id, data, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, revoked_at = excluded.revoked_at`
	_, err := q.ExecContext(ctx, insert, g.ID, g.UserID.String(), g.SessionID.String(), g.ClientID, string(data),
		hookTime(g.CreatedAt), nullHookTime(g.RevokedAt))
	return err
}

// Grant returns the grant id.
func (s *OIDCGrants) Grant(ctx context.Context, id string) (oidcop.Grant, error) {
	const q = `SELECT data, revoked_at FROM oidc_grants WHERE id = ?`
	var data string
	var revoked sql.NullString
	if err := s.db.read.QueryRowContext(ctx, q, id).Scan(&data, &revoked); err != nil {
		return oidcop.Grant{}, translateOIDC(err, "read grant")
	}
	var g oidcop.Grant
	if err := json.Unmarshal([]byte(data), &g); err != nil {
		return oidcop.Grant{}, fmt.Errorf("read grant: %w", err)
	}
	at, err := parseKeyTime(revoked)
	if err != nil {
		return oidcop.Grant{}, fmt.Errorf("read grant: %w", err)
	}
	g.RevokedAt = at
	return g, nil
}

// RevokeGrant marks grant id revoked at at, keeping an earlier revocation.
func (s *OIDCGrants) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE oidc_grants SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	res, err := s.db.write.ExecContext(ctx, q, hookTime(at), id)
	if err != nil {
		return translateOIDC(err, "revoke grant")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(oidcop.ErrNotFound, err)
	}
	return nil
}

// RevokeGrantsOf marks userID's live grants to clientID revoked at at.
func (s *OIDCGrants) RevokeGrantsOf(ctx context.Context, userID uuid.UUID, clientID string, at time.Time) error {
	return (&OIDCWithdrawal{conn{db: s.db}}).RevokeGrantsOf(ctx, userID, clientID, at)
}

// RevokeGrantsOf marks userID's grants of clientID revoked at at.
func (w *OIDCWithdrawal) RevokeGrantsOf(ctx context.Context, userID uuid.UUID, clientID string, at time.Time) error {
	ctx, cancel := w.c.wait(ctx)
	defer cancel()
	const q = `UPDATE oidc_grants SET revoked_at = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL`
	_, err := w.c.exec(ctx, q, hookTime(at), userID.String(), clientID)
	return translateOIDC(err, "revoke grants of a client")
}

// GrantsOf lists userID's grants, oldest first.
func (s *OIDCGrants) GrantsOf(ctx context.Context, userID uuid.UUID) ([]oidcop.Grant, error) {
	const q = `SELECT data, revoked_at FROM oidc_grants WHERE user_id = ? ORDER BY created_at, id`
	rows, err := s.db.read.QueryContext(ctx, q, userID.String())
	if err != nil {
		return nil, translateOIDC(err, "list grants")
	}
	defer rows.Close()
	out := []oidcop.Grant{}
	for rows.Next() {
		var (
			data    string
			revoked sql.NullString
			g       oidcop.Grant
		)
		if err := rows.Scan(&data, &revoked); err != nil {
			return nil, translateOIDC(err, "list grants")
		}
		if err := json.Unmarshal([]byte(data), &g); err != nil {
			return nil, fmt.Errorf("list grants: %w", err)
		}
		if g.RevokedAt, err = parseKeyTime(revoked); err != nil {
			return nil, fmt.Errorf("list grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, translateOIDC(err, "list grants")
	}
	return out, nil
}

// AddRefreshToken stores t, after marking replaces used when it is set,
// in one transaction on the single writer.
func (s *OIDCGrants) AddRefreshToken(ctx context.Context, t oidcop.RefreshToken, replaces []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	err := conn{db: s.db}.inTx(ctx, func(tx *sql.Tx) error {
		if replaces != nil {
			const use = `UPDATE oidc_refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL`
			res, err := tx.ExecContext(ctx, use, hookTime(t.CreatedAt), replaces)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				return refreshNotUsable(ctx, tx, replaces)
			}
		}
		const q = `INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, t.Hash, t.GrantID, hookTime(t.CreatedAt), hookTime(t.ExpiresAt), nullHookTime(t.UsedAt))
		return err
	})
	if errors.Is(err, oidcop.ErrRefreshReused) || errors.Is(err, oidcop.ErrNotFound) {
		return err
	}
	return translateOIDC(err, "add refresh token")
}

// refreshNotUsable says why the token of hash could not be marked used:
// ErrRefreshReused when it is stored (so used), else ErrNotFound.
func refreshNotUsable(ctx context.Context, tx *sql.Tx, hash []byte) error {
	const q = `SELECT EXISTS (SELECT 1 FROM oidc_refresh_tokens WHERE hash = ?)`
	var stored bool
	if err := tx.QueryRowContext(ctx, q, hash).Scan(&stored); err != nil {
		return err
	}
	if stored {
		return oidcop.ErrRefreshReused
	}
	return oidcop.ErrNotFound
}

// RefreshToken returns the token of hash, changing nothing.
func (s *OIDCGrants) RefreshToken(ctx context.Context, hash []byte) (oidcop.RefreshToken, error) {
	const q = `SELECT hash, grant_id, created_at, expires_at, used_at FROM oidc_refresh_tokens WHERE hash = ?`
	return scanOIDCRefresh(s.db.read.QueryRowContext(ctx, q, hash))
}

func scanOIDCRefresh(row *sql.Row) (oidcop.RefreshToken, error) {
	var t oidcop.RefreshToken
	var created, expires string
	var used sql.NullString
	if err := row.Scan(&t.Hash, &t.GrantID, &created, &expires, &used); err != nil {
		return oidcop.RefreshToken{}, translateOIDC(err, "read refresh token")
	}
	err := parseHookTimes(hookText(created, &t.CreatedAt), hookText(expires, &t.ExpiresAt), hookNullable(used, &t.UsedAt))
	return t, err
}

// Consent returns userID's consent to clientID.
func (s *OIDCConsents) Consent(ctx context.Context, userID uuid.UUID, clientID string) (oidcop.Consent, error) {
	const q = `SELECT scopes, updated_at FROM oidc_consents WHERE user_id = ? AND client_id = ?`
	c := oidcop.Consent{UserID: userID, ClientID: clientID}
	var scopes, updated string
	if err := s.db.read.QueryRowContext(ctx, q, userID.String(), clientID).Scan(&scopes, &updated); err != nil {
		return oidcop.Consent{}, translateOIDC(err, "read consent")
	}
	c.Scopes = strings.Fields(scopes)
	return c, parseHookTimes(hookText(updated, &c.UpdatedAt))
}

// SaveConsent stores c, replacing the consent of its user and client.
func (s *OIDCConsents) SaveConsent(ctx context.Context, c oidcop.Consent) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `INSERT INTO oidc_consents (user_id, client_id, scopes, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`
	_, err := s.db.write.ExecContext(ctx, q, c.UserID.String(), c.ClientID, strings.Join(c.Scopes, " "), hookTime(c.UpdatedAt))
	return translateOIDC(err, "save consent")
}

// DeleteConsent removes userID's consent to clientID.
func (s *OIDCConsents) DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) error {
	return (&OIDCWithdrawal{conn{db: s.db}}).DeleteConsent(ctx, userID, clientID)
}

// DeleteConsent removes userID's consent to clientID.
func (w *OIDCWithdrawal) DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) error {
	ctx, cancel := w.c.wait(ctx)
	defer cancel()
	res, err := w.c.exec(ctx, `DELETE FROM oidc_consents WHERE user_id = ? AND client_id = ?`, userID.String(), clientID)
	if err != nil {
		return translateOIDC(err, "delete consent")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(oidcop.ErrNotFound, err)
	}
	return nil
}

// ConsentsOf lists userID's consents by client id.
func (s *OIDCConsents) ConsentsOf(ctx context.Context, userID uuid.UUID) ([]oidcop.Consent, error) {
	const q = `SELECT client_id, scopes, updated_at FROM oidc_consents WHERE user_id = ? ORDER BY client_id`
	rows, err := s.db.read.QueryContext(ctx, q, userID.String())
	if err != nil {
		return nil, translateOIDC(err, "list consents")
	}
	defer rows.Close()
	out := []oidcop.Consent{}
	for rows.Next() {
		c := oidcop.Consent{UserID: userID}
		var scopes, updated string
		if err := rows.Scan(&c.ClientID, &scopes, &updated); err != nil {
			return nil, translateOIDC(err, "list consents")
		}
		c.Scopes = strings.Fields(scopes)
		if err := parseHookTimes(hookText(updated, &c.UpdatedAt)); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translateOIDC(err, "list consents")
	}
	return out, nil
}
