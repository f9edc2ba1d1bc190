package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// UserSession returns the user userID and its session sessionID in one
// statement (a join by both primary keys): the lookup of every
// authenticated request. Either missing, or the session not the user's, is
// ErrNotFound.
func (s *Users) UserSession(ctx context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT u.id, u.email, u.username, u.hashed_password, COALESCE(u.full_name, ''),
			u.is_active, u.token_version, u.created_at, u.updated_at, u.role, u.email_verified,
			s.id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip
		FROM users u JOIN sessions s ON s.user_id = u.id
		WHERE u.id = $1 AND s.id = $2`
	var (
		u    user.User
		sess user.Session
		rev  *time.Time
	)
	// The ids go in and out as [16]byte, which pgx's uuid codec takes
	// directly; as uuid.UUID they would go through their text form (a
	// driver.Valuer and an sql.Scanner), with some 30 allocations more.
	err := s.pool.QueryRow(ctx, q, [16]byte(userID), [16]byte(sessionID)).Scan(
		(*[16]byte)(&u.ID), &u.Email, &u.Username, &u.PasswordHash, &u.FullName,
		&u.IsActive, &u.TokenVersion, &u.CreatedAt, &u.UpdatedAt, &u.Role, &u.EmailVerified,
		(*[16]byte)(&sess.ID), &sess.CreatedAt, &sess.LastUsedAt, &sess.ExpiresAt, &rev, &sess.UserAgent, &sess.IP)
	if err != nil {
		return user.User{}, user.Session{}, translate(err, "get user and session")
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	sess.UserID = u.ID
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), utc(rev)
	return u, sess, nil
}
