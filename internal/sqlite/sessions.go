package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Sessions is the SQLite user.Sessions.
type Sessions struct{ conn }

var _ user.Sessions = (*Sessions)(nil)

// timeLayout is how the session tables keep times: UTC with a fixed number
// of digits, so that they compare as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// sessionColumns lists, in scanSession's order, the columns of a
// user.Session.
const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip,
	COALESCE(authenticated_at, created_at), client_id`

// Create stores sess and its first refresh token in one transaction.
func (s *Sessions) Create(ctx context.Context, sess user.Session, t user.RefreshToken) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	auth := sess.AuthenticatedAt
	if auth.IsZero() {
		auth = sess.CreatedAt // the caller does not say: the login
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `
			INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, authenticated_at, amr, acr, client_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, sess.ID, sess.UserID, ts(sess.CreatedAt), ts(sess.LastUsedAt),
			ts(sess.ExpiresAt), sess.UserAgent, sess.IP, ts(auth), strings.Join(sess.AMR, " "), sess.ACR, clientColumn(sess)); err != nil {
			return err
		}
		_, err := insertRefreshToken(ctx, tx, t)
		return err
	})
	if err != nil {
		return translateSession(err, "create session")
	}
	return nil
}

// insertRefreshToken stores t; stored reports whether it was new. A t
// whose hash exists in its session already (the same successor computed
// again) is not stored again; one of another session is an error.
func insertRefreshToken(ctx context.Context, tx *sql.Tx, t user.RefreshToken) (stored bool, err error) {
	const q = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, t.Hash, t.SessionID, ts(t.CreatedAt), ts(t.ExpiresAt))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err == nil, err
	}
	var session uuid.UUID
	if err := tx.QueryRowContext(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = ?`, t.Hash).Scan(&session); err != nil {
		return false, err
	}
	if session != t.SessionID {
		return false, errTokenOfAnotherSession
	}
	return false, nil
}

// errTokenOfAnotherSession is a refresh token whose hash another session
// has: never a collision of 256-bit values, so a bug or tampering.
var errTokenOfAnotherSession = errors.New("refresh token hash of another session")

// activeQuery is Active's statement; revokeOldestQuery RevokeOldest's.
// Both read an account's live sessions through sessions_user_cover
// (migration 00029), the revoked and expired ones skipped in the index;
// RevokeOldest from the index alone, Active the rows it returns only
// (plan tests).
const (
	activeQuery = `
	SELECT ` + sessionColumns + ` FROM sessions
	WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
	  AND (?3 IS NULL OR (created_at, id) > (?3, ?4))
	ORDER BY created_at, id
	LIMIT ?5`
	revokeOldestQuery = `
	UPDATE sessions SET revoked_at = ?2
	WHERE id IN (
		SELECT id FROM sessions
		WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
		ORDER BY created_at DESC, id DESC
		LIMIT -1 OFFSET ?3)
	RETURNING id, created_at`
)

// Active returns a page of userID's sessions neither revoked nor expired
// at now, oldest first.
func (s *Sessions) Active(ctx context.Context, userID uuid.UUID, now time.Time, page user.SessionPage) ([]user.Session, error) {
	const q = activeQuery
	var after, afterID any
	if page.After != nil {
		after, afterID = ts(page.After.CreatedAt), page.After.ID.String()
	}
	limit := -1 // SQLite: no limit
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.readRows(ctx, q, userID, ts(now), after, afterID, limit)
	if err != nil {
		return nil, translateSession(err, "list sessions")
	}
	defer rows.Close()
	var all []user.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, translateSession(err, "list sessions")
		}
		all = append(all, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, translateSession(err, "list sessions")
	}
	return all, nil
}

// RevokeOldest revokes userID's sessions active at now beyond the keep
// newest, in one statement (on the single writer: no other login comes
// between the count and the change).
func (s *Sessions) RevokeOldest(ctx context.Context, userID uuid.UUID, keep int, now time.Time) ([]uuid.UUID, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = revokeOldestQuery
	rows, err := s.writeRows(ctx, q, userID, ts(now), keep)
	if err != nil {
		return nil, translateSession(err, "revoke oldest sessions")
	}
	defer rows.Close()
	type ended struct {
		id      uuid.UUID
		created string
	}
	var all []ended
	for rows.Next() {
		var id, created string
		if err := rows.Scan(&id, &created); err != nil {
			return nil, translateSession(err, "revoke oldest sessions")
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("revoke oldest sessions: id: %w", err)
		}
		all = append(all, ended{u, created})
	}
	if err := rows.Err(); err != nil {
		return nil, translateSession(err, "revoke oldest sessions")
	}
	slices.SortFunc(all, func(a, b ended) int {
		if c := strings.Compare(a.created, b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id.String(), b.id.String())
	})
	ids := make([]uuid.UUID, len(all))
	for i, e := range all {
		ids[i] = e.id
	}
	return ids, nil
}

// All returns a page of every session of userID, oldest first, from
// page.After on.
func (s *Sessions) All(ctx context.Context, userID uuid.UUID, page user.SessionPage) ([]user.Session, error) {
	const q = `
		SELECT ` + sessionColumns + ` FROM sessions
		WHERE user_id = ?1 AND (?2 IS NULL OR (created_at, id) > (?2, ?3))
		ORDER BY created_at, id
		LIMIT ?4`
	var after, afterID any
	if page.After != nil {
		after, afterID = ts(page.After.CreatedAt), page.After.ID.String()
	}
	limit := -1 // SQLite: no limit
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.readRows(ctx, q, userID, after, afterID, limit)
	if err != nil {
		return nil, translateSession(err, "list all sessions")
	}
	defer rows.Close()
	var all []user.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, translateSession(err, "list all sessions")
		}
		all = append(all, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, translateSession(err, "list all sessions")
	}
	return all, nil
}

// Revoke marks one session of userID revoked, once.
func (s *Sessions) Revoke(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	return s.setLive(ctx, "revoked_at", userID, id, at, "revoke session")
}

// RevokeAll marks every session of userID but except revoked.
func (s *Sessions) RevokeAll(ctx context.Context, userID, except uuid.UUID, at time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`
	if _, err := s.exec(ctx, q, ts(at), userID, except); err != nil {
		return translateSession(err, "revoke sessions")
	}
	return nil
}

// RefreshToken returns the token of that hash and its session, in one
// query.
func (s *Sessions) RefreshToken(ctx context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	const q = `
		SELECT t.hash, t.session_id, t.created_at, t.expires_at, t.used_at,
		       s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip,
		       COALESCE(s.authenticated_at, s.created_at), s.amr, s.acr, s.client_id
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.hash = ?`
	var (
		amr          string
		t            user.RefreshToken
		created, exp string
		used         sql.NullString
		sessT        [4]string
		rev          sql.NullString
		client       sql.NullString
		sess         user.Session
	)
	err := s.readRow(ctx, q, hash).Scan(&t.Hash, &t.SessionID, &created, &exp, &used,
		&sess.ID, &sess.UserID, &sessT[0], &sessT[1], &sessT[2], &rev, &sess.UserAgent, &sess.IP, &sessT[3], &amr, &sess.ACR, &client)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, translateSession(err, "get refresh token")
	}
	if amr != "" {
		sess.AMR = strings.Fields(amr)
	}
	setClient(&sess, client)
	err = errors.Join(
		parseTS(created, &t.CreatedAt), parseTS(exp, &t.ExpiresAt), parseTS(used.String, &t.UsedAt),
		parseTS(sessT[0], &sess.CreatedAt), parseTS(sessT[1], &sess.LastUsedAt), parseTS(sessT[2], &sess.ExpiresAt),
		parseTS(rev.String, &sess.RevokedAt), parseTS(sessT[3], &sess.AuthenticatedAt),
	)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, fmt.Errorf("get refresh token: %w", err)
	}
	return t, sess, nil
}

// AddRefreshToken stores t, after marking replaces used when it is set,
// and moves the session's last use, in one transaction.
func (s *Sessions) AddRefreshToken(ctx context.Context, t user.RefreshToken, replaces []byte) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if replaces != nil {
			const q = `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL`
			res, err := tx.ExecContext(ctx, q, ts(t.CreatedAt), replaces)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(user.ErrRefreshTokenUsed, err)
			}
		}
		if stored, err := insertRefreshToken(ctx, tx, t); err != nil || !stored {
			return err
		}
		const touch = `UPDATE sessions SET last_used_at = ? WHERE id = ?`
		_, err := tx.ExecContext(ctx, touch, ts(t.CreatedAt), t.SessionID)
		return err
	})
	if errors.Is(err, user.ErrRefreshTokenUsed) {
		return user.ErrRefreshTokenUsed
	}
	if err != nil {
		return translateSession(err, "add refresh token")
	}
	return nil
}

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }) (user.Session, error) {
	var (
		sess                         user.Session
		created, used, expires, auth string
		rev, client                  sql.NullString
	)
	err := row.Scan(&sess.ID, &sess.UserID, &created, &used, &expires, &rev, &sess.UserAgent, &sess.IP, &auth, &client)
	if err != nil {
		return user.Session{}, err
	}
	setClient(&sess, client)
	err = errors.Join(parseTS(created, &sess.CreatedAt), parseTS(used, &sess.LastUsedAt),
		parseTS(expires, &sess.ExpiresAt), parseTS(rev.String, &sess.RevokedAt), parseTS(auth, &sess.AuthenticatedAt))
	if err != nil {
		return user.Session{}, fmt.Errorf("session times: %w", err)
	}
	return sess, nil
}

// clientColumn is what sessions.client_id keeps of sess's client: NULL
// for a session that does not know it (user.Session.AnyClient).
func clientColumn(sess user.Session) sql.NullString {
	return sql.NullString{String: sess.ClientID, Valid: !sess.AnyClient}
}

// setClient reads sessions.client_id into sess: NULL is a session of
// before migration 00032, which any client may refresh.
func setClient(sess *user.Session, client sql.NullString) {
	sess.ClientID, sess.AnyClient = client.String, !client.Valid
}

// parseTS parses a time of timeLayout into dst; "" (NULL) is the zero time.
func parseTS(s string, dst *time.Time) error {
	if s == "" {
		*dst = time.Time{}
		return nil
	}
	t, err := time.Parse(timeLayout, s)
	*dst = t
	return err
}

// translateSession is translate for the session statements: a missing row
// is ErrSessionNotFound.
func translateSession(err error, op string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return user.ErrSessionNotFound
	}
	return translate(err, op)
}

// Reauthenticated moves the authentication time of the session id of
// userID to at, unless it is revoked.
func (s *Sessions) Reauthenticated(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	return s.setLive(ctx, "authenticated_at", userID, id, at, "reauthenticate session")
}

// setLive sets the time column (a constant of this file, never input) of
// the live session id of userID to at; ErrSessionNotFound when there is
// none.
func (s *Sessions) setLive(ctx context.Context, column string, userID, id uuid.UUID, at time.Time, op string) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	q := `UPDATE sessions SET ` + column + ` = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL` // #nosec G202 -- column is a constant
	res, err := s.exec(ctx, q, ts(at), id, userID)
	if err != nil {
		return translateSession(err, op)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(user.ErrSessionNotFound, err)
	}
	return nil
}
