package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// sessionColumns lists, in scanSession's order, the columns of a
// user.Session.
const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip`

// CreateSession stores s and its first refresh token in one transaction.
func (s *Users) CreateSession(ctx context.Context, sess user.Session, t user.RefreshToken) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		const q = `
			INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`
		if _, err := tx.Exec(ctx, q, sess.ID, sess.UserID, sess.CreatedAt, sess.LastUsedAt,
			sess.ExpiresAt, sess.UserAgent, sess.IP); err != nil {
			return err
		}
		return insertRefreshToken(ctx, tx, t)
	})
	if err != nil {
		return translateSession(err, "create session")
	}
	return nil
}

func insertRefreshToken(ctx context.Context, tx pgx.Tx, t user.RefreshToken) error {
	const q = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`
	_, err := tx.Exec(ctx, q, t.Hash, t.SessionID, t.CreatedAt, t.ExpiresAt)
	return err
}

// Session returns the session id of user userID.
func (s *Users) Session(ctx context.Context, userID, id uuid.UUID) (user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1 AND user_id = $2`
	sess, err := scanSession(s.pool.QueryRow(ctx, q, id, userID))
	if err != nil {
		return user.Session{}, translateSession(err, "get session")
	}
	return sess, nil
}

// ActiveSessions returns userID's sessions neither revoked nor expired at
// now, oldest first.
func (s *Users) ActiveSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT ` + sessionColumns + ` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at, id`
	rows, err := s.pool.Query(ctx, q, userID, now)
	if err != nil {
		return nil, translateSession(err, "list sessions")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, translateSession(err, "list sessions")
	}
	return all, nil
}

// RevokeSession marks one session of userID revoked, once.
func (s *Users) RevokeSession(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`
	tag, err := s.pool.Exec(ctx, q, id, userID, at)
	if err != nil {
		return translateSession(err, "revoke session")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrSessionNotFound
	}
	return nil
}

// RevokeSessions marks every session of userID but except revoked.
func (s *Users) RevokeSessions(ctx context.Context, userID, except uuid.UUID, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`
	if _, err := s.pool.Exec(ctx, q, userID, except, at); err != nil {
		return translateSession(err, "revoke sessions")
	}
	return nil
}

// RefreshToken returns the token of that hash and its session, in one
// query.
func (s *Users) RefreshToken(ctx context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT t.hash, t.session_id, t.created_at, t.expires_at, t.used_at,
		       s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.hash = $1`
	var (
		t    user.RefreshToken
		sess user.Session
		used *time.Time
		rev  *time.Time
	)
	err := s.pool.QueryRow(ctx, q, hash).Scan(&t.Hash, &t.SessionID, &t.CreatedAt, &t.ExpiresAt, &used,
		&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastUsedAt, &sess.ExpiresAt, &rev, &sess.UserAgent, &sess.IP)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, translateSession(err, "get refresh token")
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utc(used)
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), utc(rev)
	return t, sess, nil
}

// AddRefreshToken stores t, after marking replaces used when it is set,
// and moves the session's last use, in one transaction.
func (s *Users) AddRefreshToken(ctx context.Context, t user.RefreshToken, replaces []byte) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if replaces != nil {
			const q = `UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`
			tag, err := tx.Exec(ctx, q, replaces, t.CreatedAt)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return user.ErrRefreshTokenUsed
			}
		}
		if err := insertRefreshToken(ctx, tx, t); err != nil {
			return err
		}
		const touch = `UPDATE sessions SET last_used_at = $2 WHERE id = $1`
		_, err := tx.Exec(ctx, touch, t.SessionID, t.CreatedAt)
		return err
	})
	if errors.Is(err, user.ErrRefreshTokenUsed) {
		return err
	}
	if err != nil {
		return translateSession(err, "add refresh token")
	}
	return nil
}

// Deactivate marks the user inactive.
func (s *Users) Deactivate(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET is_active = FALSE WHERE id = $1`, id)
	if err != nil {
		return translate(err, "deactivate user")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrNotFound
	}
	return nil
}

// scanSession reads one row of sessionColumns, in UTC.
func scanSession(row pgx.Row) (user.Session, error) {
	var (
		sess user.Session
		rev  *time.Time
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastUsedAt, &sess.ExpiresAt, &rev, &sess.UserAgent, &sess.IP)
	if err != nil {
		return user.Session{}, err
	}
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), utc(rev)
	return sess, nil
}

// utc is t in UTC, or the zero time for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// translateSession is translate for the session statements: a missing row
// is ErrSessionNotFound.
func translateSession(err error, op string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return user.ErrSessionNotFound
	}
	return translate(err, op)
}
