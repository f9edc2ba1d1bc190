package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// Sessions is the PostgreSQL user.Sessions.
type Sessions struct{ conn }

var _ user.Sessions = (*Sessions)(nil)

// sessionColumns lists, in scanSession's order, the columns of a
// user.Session.
const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip,
	COALESCE(authenticated_at, created_at), client_id`

// Create stores sess and its first refresh token: one statement, so both
// or neither, in one round trip (execUndoable). A new session's first
// token has no predecessor computed again, so a hash stored already is an
// error here, not a token to keep (insertRefreshToken).
func (s *Sessions) Create(ctx context.Context, sess user.Session, t user.RefreshToken) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	auth := sess.AuthenticatedAt
	if auth.IsZero() {
		auth = sess.CreatedAt // the caller does not say: the login
	}
	const q = `
		WITH session AS (
			INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, authenticated_at, amr, acr, client_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15))
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES ($11, $12, $13, $14)`
	if _, err := s.execUndoable(ctx, q, sess.ID, sess.UserID, sess.CreatedAt, sess.LastUsedAt,
		sess.ExpiresAt, sess.UserAgent, sess.IP, auth, strings.Join(sess.AMR, " "), sess.ACR,
		t.Hash, t.SessionID, t.CreatedAt, t.ExpiresAt, clientColumn(sess)); err != nil {
		return translateSession(err, "create session")
	}
	return nil
}

// insertRefreshToken stores t; stored reports whether it was new. A t
// whose hash exists in its session already (the same successor computed
// again) is not stored again; one of another session is an error.
func insertRefreshToken(ctx context.Context, tx pgx.Tx, t user.RefreshToken) (stored bool, err error) {
	const q = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`
	tag, err := tx.Exec(ctx, q, t.Hash, t.SessionID, t.CreatedAt, t.ExpiresAt)
	if err != nil || tag.RowsAffected() == 1 {
		return err == nil, err
	}
	var session uuid.UUID
	if err := tx.QueryRow(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = $1`, t.Hash).Scan(&session); err != nil {
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
// RevokeOldest from the index alone, Active the heap rows it returns only
// (plan tests). RevokeOldest reads them once, into a materialized CTE:
// as a subquery of UPDATE ... WHERE id IN, a planner that believed the
// table tiny read them again for every session of the table.
const (
	activeQuery = `
	SELECT ` + sessionColumns + ` FROM sessions
	WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
	  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
	ORDER BY created_at, id
	LIMIT $5`
	revokeOldestQuery = `
	WITH beyond AS MATERIALIZED (
		SELECT id FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC
		OFFSET $3),
	ended AS (
		UPDATE sessions SET revoked_at = $2
		FROM beyond
		WHERE sessions.id = beyond.id AND sessions.revoked_at IS NULL
		RETURNING sessions.id, sessions.created_at)
	SELECT id FROM ended ORDER BY created_at, id`
)

// Active returns a page of userID's sessions neither revoked nor expired
// at now, oldest first.
func (s *Sessions) Active(ctx context.Context, userID uuid.UUID, now time.Time, page user.SessionPage) ([]user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = activeQuery
	var after, afterID, limit any
	if page.After != nil {
		after, afterID = page.After.CreatedAt, page.After.ID
	}
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.q.Query(ctx, q, userID, now, after, afterID, limit)
	if err != nil {
		return nil, translateSession(err, "list sessions")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, translateSession(err, "list sessions")
	}
	return all, nil
}

// sessionLimitLock is the first key of the transaction-level advisory
// lock (the two-key form, whose keys never meet the one-key locks of
// keyRotationLockID and the others) that RevokeOldest takes per account;
// the second is a hash of the account's id.
const sessionLimitLock int32 = 0x75737673 // "usvs"

// RevokeOldest revokes userID's sessions active at now beyond the keep
// newest. Inside the login's transaction it first takes the account's
// advisory lock, held until that transaction ends, so that logins of one
// account at once count their sessions one after the other: each sees the
// sessions the others opened (READ COMMITTED: the count is a later
// statement than the wait), and none leaves the account over the limit.
// Only logins take it: nothing else waits for them.
func (s *Sessions) RevokeOldest(ctx context.Context, userID uuid.UUID, keep int, now time.Time) ([]uuid.UUID, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	// The lock and the revocation go in one batch, one round trip: still
	// two statements, the second's snapshot taken after the first's wait.
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2::text))`, sessionLimitLock, userID)
	b.Queue(revokeOldestQuery, userID, now, keep)
	br := s.q.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, translateSession(err, "lock the account's sessions")
	}
	rows, err := br.Query()
	if err != nil {
		return nil, translateSession(err, "revoke oldest sessions")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err == nil {
		err = br.Close()
	}
	if err != nil {
		return nil, translateSession(err, "revoke oldest sessions")
	}
	return ids, nil
}

// All returns a page of every session of userID, oldest first, read
// from sessions_user_cover (migration 00029) from page.After on.
func (s *Sessions) All(ctx context.Context, userID uuid.UUID, page user.SessionPage) ([]user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT ` + sessionColumns + ` FROM sessions
		WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
		ORDER BY created_at, id
		LIMIT $4`
	var after, afterID, limit any
	if page.After != nil {
		after, afterID = page.After.CreatedAt, page.After.ID
	}
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.q.Query(ctx, q, userID, after, afterID, limit)
	if err != nil {
		return nil, translateSession(err, "list all sessions")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.Session, error) { return scanSession(r) })
	if err != nil {
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
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`
	if _, err := s.q.Exec(ctx, q, userID, except, at); err != nil {
		return translateSession(err, "revoke sessions")
	}
	return nil
}

// RefreshToken returns the token of that hash and its session, in one
// query.
func (s *Sessions) RefreshToken(ctx context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT t.hash, t.session_id, t.created_at, t.expires_at, t.used_at,
		       s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip,
		       COALESCE(s.authenticated_at, s.created_at), s.amr, s.acr, s.client_id
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.hash = $1`
	var (
		amr    string
		t      user.RefreshToken
		sess   user.Session
		used   *time.Time
		rev    *time.Time
		client *string
	)
	err := s.q.QueryRow(ctx, s.lockedInTx(q), hash).Scan(&t.Hash, &t.SessionID, &t.CreatedAt, &t.ExpiresAt, &used,
		&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastUsedAt, &sess.ExpiresAt, &rev, &sess.UserAgent, &sess.IP, &sess.AuthenticatedAt, &amr, &sess.ACR, &client)
	if err != nil {
		return user.RefreshToken{}, user.Session{}, translateSession(err, "get refresh token")
	}
	if amr != "" {
		sess.AMR = strings.Fields(amr)
	}
	setClient(&sess, client)
	sess.AuthenticatedAt = sess.AuthenticatedAt.UTC()
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utc(used)
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), utc(rev)
	return t, sess, nil
}

// AddRefreshToken stores t, after marking replaces used when it is set,
// and moves the session's last use, in one transaction.
func (s *Sessions) AddRefreshToken(ctx context.Context, t user.RefreshToken, replaces []byte) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.q, func(tx pgx.Tx) error {
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
		if stored, err := insertRefreshToken(ctx, tx, t); err != nil || !stored {
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

// scanSession reads one row of sessionColumns, in UTC.
func scanSession(row pgx.Row) (user.Session, error) {
	var (
		sess   user.Session
		rev    *time.Time
		client *string
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastUsedAt, &sess.ExpiresAt, &rev, &sess.UserAgent, &sess.IP, &sess.AuthenticatedAt, &client)
	if err != nil {
		return user.Session{}, err
	}
	setClient(&sess, client)
	sess.AuthenticatedAt = sess.AuthenticatedAt.UTC()
	sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC(), sess.ExpiresAt.UTC(), utc(rev)
	return sess, nil
}

// clientColumn is what sessions.client_id keeps of sess's client: NULL
// for a session that does not know it (user.Session.AnyClient).
func clientColumn(sess user.Session) *string {
	if sess.AnyClient {
		return nil
	}
	return &sess.ClientID
}

// setClient reads sessions.client_id into sess: NULL is a session of
// before migration 00032, which any client may refresh.
func setClient(sess *user.Session, client *string) {
	if client == nil {
		sess.AnyClient = true
		return
	}
	sess.ClientID = *client
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

// Reauthenticated moves the authentication time of the session id of
// userID to at, unless it is revoked.
func (s *Sessions) Reauthenticated(ctx context.Context, userID, id uuid.UUID, at time.Time) error {
	return s.setLive(ctx, "authenticated_at", userID, id, at, "reauthenticate session")
}

// setLive sets the time column (a constant of this file, never input) of
// the live session id of userID to at; ErrSessionNotFound when there is
// none.
func (s *Sessions) setLive(ctx context.Context, column string, userID, id uuid.UUID, at time.Time, op string) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	q := `UPDATE sessions SET ` + column + ` = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL` // #nosec G202 -- column is a constant
	tag, err := s.q.Exec(ctx, q, id, userID, at)
	if err != nil {
		return translateSession(err, op)
	}
	if tag.RowsAffected() == 0 {
		return user.ErrSessionNotFound
	}
	return nil
}
