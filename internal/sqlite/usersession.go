package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// userSessionQuery is UserSession's statement: the user and its session by
// both primary keys, only the columns authenticating a request needs.
const userSessionQuery = `
	SELECT u.email, u.username, COALESCE(u.full_name, ''), u.is_active, u.token_version,
		u.created_at, u.updated_at, u.role, u.email_verified, s.expires_at, s.revoked_at,
		COALESCE(s.authenticated_at, s.created_at), s.amr, s.acr
	FROM users u JOIN sessions s ON s.user_id = u.id
	WHERE u.id = ? AND s.id = ?`

// UserSession returns the user userID (without its password hash) and the
// state of its session sessionID in one prepared statement (a join by both
// primary keys): the lookup of every authenticated request. Either
// missing, or the session not the user's, is ErrNotFound. Inside a
// transaction the statement runs on it, unprepared.
func (s *Sessions) UserSession(ctx context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	var row *sql.Row
	if s.tx != nil {
		row = s.tx.QueryRowContext(ctx, userSessionQuery, userID, sessionID)
	} else {
		stmt, err := s.db.prepared.get(ctx, s.db.read, userSessionQuery) //nolint:sqlclosecheck // kept; Close closes it
		if err != nil {
			return user.User{}, user.Session{}, translate(err, "prepare user and session lookup")
		}
		row = stmt.QueryRowContext(ctx, userID, sessionID)
	}
	u := user.User{ID: userID}
	sess := user.Session{ID: sessionID, UserID: userID}
	var (
		created, updated, expires, auth, amr string
		rev                                  sql.NullString
	)
	err := row.Scan(
		&u.Email, &u.Username, &u.FullName, &u.IsActive, &u.TokenVersion,
		&created, &updated, &u.Role, &u.EmailVerified, &expires, &rev, &auth, &amr, &sess.ACR)
	if err != nil {
		return user.User{}, user.Session{}, translate(err, "get user and session")
	}
	err = errors.Join(parseUserTime(created, &u.CreatedAt), parseUserTime(updated, &u.UpdatedAt),
		parseTS(expires, &sess.ExpiresAt), parseTS(rev.String, &sess.RevokedAt), parseTS(auth, &sess.AuthenticatedAt))
	if err != nil {
		return user.User{}, user.Session{}, fmt.Errorf("get user and session: %w", err)
	}
	sess.AMR = strings.Fields(amr) // empty: a session stored before sessions kept it
	if len(sess.AMR) == 0 {
		sess.AMR = nil
	}
	return u, sess, nil
}

// statements holds statements prepared once on the reading pool
// (database/sql prepares each again on every connection that runs it, once),
// so that the hot queries skip SQLite's parser. They are prepared on first
// use, since the store opens before its tables are migrated. Safe for
// concurrent use.
type statements struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the statement of query prepared on db, preparing it the first
// time; a failed preparation is not kept.
func (p *statements) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query) //nolint:sqlclosecheck // kept in p.m; close closes it
	if err != nil {
		return nil, err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[query] = st
	return st, nil
}

// close closes every prepared statement.
func (p *statements) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for q, st := range p.m {
		errs = append(errs, st.Close())
		delete(p.m, q)
	}
	return errors.Join(errs...)
}
