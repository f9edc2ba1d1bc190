package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// timeLayout is how the session tables keep times: UTC with a fixed number
// of digits, so that they compare as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// sessionColumns lists, in scanSession's order, the columns of a
// user.Session.
const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip`

// CreateSession stores s and its first refresh token in one transaction.
func (s *Users) CreateSession(ctx context.Context, sess user.Session, t user.RefreshToken) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `
			INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
			VALUES (?, ?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, sess.ID, sess.UserID, ts(sess.CreatedAt), ts(sess.LastUsedAt),
			ts(sess.ExpiresAt), sess.UserAgent, sess.IP); err != nil {
			return err
		}
		return insertRefreshToken(ctx, tx, t)
	})
	if err != nil {
		return translateSession(err, "create session")
	}
	return nil
}

// inTx runs f in a transaction on the writer, committed when f returns nil.
func (s *Users) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops the error of rolling back a transaction already ended.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, t user.RefreshToken) error {
	const q = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES (?, ?, ?, ?)`
	_, err := tx.ExecContext(ctx, q, t.Hash, t.SessionID, ts(t.CreatedAt), ts(t.ExpiresAt))
	return err
}

// Session returns the session id of user userID.
func (s *Users) Session(ctx context.Context, userID, id uuid.UUID) (user.Session, error) {
	const q = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ? AND user_id = ?`
	sess, err := scanSession(s.read.QueryRowContext(ctx, q, id, userID))
	if err != nil {
		return user.Session{}, translateSession(err, "get session")
	}
	return sess, nil
}

// ActiveSessions returns userID's sessions neither revoked nor expired at
// now, oldest first.
func (s *Users) ActiveSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]user.Session, error) {
	const q = `
		SELECT ` + sessionColumns + ` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at, id`
	rows, err := s.read.QueryContext(ctx, q, userID, ts(now))
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

// RevokeSession marks one session of userID revoked, once.
func (s *Users) RevokeSession(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`
	res, err := s.write.ExecContext(ctx, q, ts(at), id, userID)
	if err != nil {
		return translateSession(err, "revoke session")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(user.ErrSessionNotFound, err)
	}
	return nil
}

// RevokeSessions marks every session of userID but except revoked.
func (s *Users) RevokeSessions(ctx context.Context, userID, except uuid.UUID, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`
	if _, err := s.write.ExecContext(ctx, q, ts(at), userID, except); err != nil {
		return translateSession(err, "revoke sessions")
	}
	return nil
}

// RefreshToken returns the token of that hash and its session, in one
// query.
func (s *Users) RefreshToken(ctx context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	const q = `
		SELECT t.hash, t.session_id, t.created_at, t.expires_at, t.used_at,
		       s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.hash = ?`
	var (
		t            user.RefreshToken
		created, exp string
		used         sql.NullString
		sessT        [3]string
		rev          sql.NullString
		sess         user.Session
	)
	err := s.read.QueryRowContext(ctx, q, hash).Scan(&t.Hash, &t.SessionID, &created, &exp, &used,
		&sess.ID, &sess.UserID, &sessT[0], &sessT[1], &sessT[2], &rev, &sess.UserAgent, &sess.IP)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, translateSession(err, "get refresh token")
	}
	err = errors.Join(
		parseTS(created, &t.CreatedAt), parseTS(exp, &t.ExpiresAt), parseTS(used.String, &t.UsedAt),
		parseTS(sessT[0], &sess.CreatedAt), parseTS(sessT[1], &sess.LastUsedAt), parseTS(sessT[2], &sess.ExpiresAt),
		parseTS(rev.String, &sess.RevokedAt),
	)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, fmt.Errorf("get refresh token: %w", err)
	}
	return t, sess, nil
}

// AddRefreshToken stores t, after marking replaces used when it is set,
// and moves the session's last use, in one transaction.
func (s *Users) AddRefreshToken(ctx context.Context, t user.RefreshToken, replaces []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
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
		if err := insertRefreshToken(ctx, tx, t); err != nil {
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

// Deactivate marks the user inactive.
func (s *Users) Deactivate(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	const q = `UPDATE users SET is_active = 0, updated_at = ` + nextUpdatedAt + ` WHERE id = ?`
	res, err := s.write.ExecContext(ctx, q, id)
	return affectedOne(res, err, "deactivate user")
}

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }) (user.Session, error) {
	var (
		sess                   user.Session
		created, used, expires string
		rev                    sql.NullString
	)
	err := row.Scan(&sess.ID, &sess.UserID, &created, &used, &expires, &rev, &sess.UserAgent, &sess.IP)
	if err != nil {
		return user.Session{}, err
	}
	err = errors.Join(parseTS(created, &sess.CreatedAt), parseTS(used, &sess.LastUsedAt),
		parseTS(expires, &sess.ExpiresAt), parseTS(rev.String, &sess.RevokedAt))
	if err != nil {
		return user.Session{}, fmt.Errorf("session times: %w", err)
	}
	return sess, nil
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
