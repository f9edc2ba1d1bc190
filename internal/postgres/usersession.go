package postgres

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usersvc/usersvc/internal/user"
)

// UserSession returns the user userID (without its password hash) and the
// state of its session sessionID: the lookup of every authenticated
// request, so it reads no column the request does not need. Either
// missing, or the session not the user's, is ErrNotFound.
//
// Lookups of concurrent requests share statements (see authLookups): each
// still reads the database after it was asked, and nothing is cached.
// Inside a transaction the lookup runs alone, on the transaction, and
// locks both rows (see lockedInTx).
func (s *Sessions) UserSession(ctx context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	if !s.inTx {
		return s.db.auth.get(ctx, userID, sessionID)
	}
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	l := authLookup{userID: userID, sessionID: sessionID}
	var r authRow
	err := s.q.QueryRow(ctx, s.lockedInTx(authOne), [16]byte(userID), [16]byte(sessionID)).Scan(r.dest()...)
	if err != nil {
		return user.User{}, user.Session{}, translate(err, "get user and session")
	}
	l.found(&r)
	return l.u, l.s, nil
}

// Why it is worth its complexity: docs/benchmarks.md, "Part 4 (third
// session)": PostgreSQL reads went from 74-85% of the bare handler to
// 136-162% with it (bench/ab HEAD bare measures it again).
//
// authLookups batches the UserSession lookups of concurrent requests. A
// lookup asked while fewer than max statements are running starts one
// at once, alone; one asked while max are running waits for the first to
// finish, which then runs every lookup that waited in a single statement.
// So a lone request pays no delay, and under load the database parses,
// plans and answers one statement (and the service makes one round trip)
// for many requests instead of one each. max is half the pool, leaving
// the rest to the other queries.
type authLookups struct {
	pool *pgxpool.Pool
	max  int

	mu      sync.Mutex
	running int
	waiting []*authLookup
}

// authLookup is one request's lookup and, once done is closed, its answer.
type authLookup struct {
	userID, sessionID uuid.UUID
	done              chan struct{}
	u                 user.User
	s                 user.Session
	err               error
}

func newAuthLookups(pool *pgxpool.Pool) *authLookups {
	return &authLookups{pool: pool, max: max(1, int(pool.Config().MaxConns)/2)}
}

func (a *authLookups) get(ctx context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	l := &authLookup{userID: userID, sessionID: sessionID, done: make(chan struct{})}
	a.mu.Lock()
	a.waiting = append(a.waiting, l)
	if a.running < a.max {
		a.running++
		batch := a.waiting
		a.waiting = nil
		a.mu.Unlock()
		go a.run(batch)
	} else {
		a.mu.Unlock()
	}
	select {
	case <-l.done:
		return l.u, l.s, l.err
	case <-ctx.Done(): // the batch goes on for the others
		return user.User{}, user.Session{}, translate(ctx.Err(), "get user and session")
	}
}

// run answers batch, then every batch that gathered meanwhile, until none
// waits.
func (a *authLookups) run(batch []*authLookup) {
	for len(batch) > 0 {
		a.answer(batch)
		a.mu.Lock()
		batch = a.waiting
		a.waiting = nil
		if len(batch) == 0 {
			a.running--
		}
		a.mu.Unlock()
	}
}

// authColumns are what authenticating a request reads of a user (u) and
// its session (s); authRow.dest scans them.
const authColumns = `u.email, u.username, COALESCE(u.full_name, ''), u.is_active, u.token_version,
	u.created_at, u.updated_at, u.role, u.email_verified, s.expires_at, s.revoked_at,
	COALESCE(s.authenticated_at, s.created_at), s.amr, s.acr`

// authOne looks up one pair by both primary keys. PostgreSQL soon plans it
// once for all executions (a generic plan), so a lone request costs what
// it did before batching.
const authOne = `SELECT ` + authColumns + `
	FROM users u JOIN sessions s ON s.user_id = u.id
	WHERE u.id = $1 AND s.id = $2`

// authMany looks up each pair of user and session id by both primary
// keys, numbering the answers by position. The lookup is a LATERAL
// subquery fenced by OFFSET 0 so that the planner keeps it what it is, two
// index scans per pair: joined freely, a batch of a few dozen pairs made it
// hash the whole sessions table. It is planned at every execution (the
// array's length changes the estimates), which the batch shares.
const authMany = `SELECT k.i, a.*
	FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(uid, sid, i)
	CROSS JOIN LATERAL (
		SELECT ` + authColumns + `
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = k.sid AND s.user_id = k.uid
		OFFSET 0
	) a`

// authRow is one answer's columns.
type authRow struct {
	u   user.User
	s   user.Session
	rev *time.Time
	amr string
}

func (r *authRow) dest() []any {
	return []any{&r.u.Email, &r.u.Username, &r.u.FullName, &r.u.IsActive, &r.u.TokenVersion,
		&r.u.CreatedAt, &r.u.UpdatedAt, &r.u.Role, &r.u.EmailVerified, &r.s.ExpiresAt, &r.rev, &r.s.AuthenticatedAt, &r.amr, &r.s.ACR}
}

// found gives l the answer r.
func (l *authLookup) found(r *authRow) {
	l.u, l.s, l.err = r.u, r.s, nil
	l.u.ID, l.u.CreatedAt, l.u.UpdatedAt = l.userID, r.u.CreatedAt.UTC(), r.u.UpdatedAt.UTC()
	l.s.ID, l.s.UserID, l.s.ExpiresAt, l.s.RevokedAt = l.sessionID, l.userID, r.s.ExpiresAt.UTC(), utc(r.rev)
	l.s.AuthenticatedAt = r.s.AuthenticatedAt.UTC()
	l.s.AMR = nil // empty: a session stored before sessions kept it
	if f := strings.Fields(r.amr); len(f) > 0 {
		l.s.AMR = f
	}
}

// answer runs one statement for batch and gives each lookup its row, or
// ErrNotFound when there is none, or the statement's error. It is bounded
// by queryWait, not by any one request's context. The ids go in as
// [16]byte, which pgx's uuid codec takes directly; as uuid.UUID they would
// go through their text form (a driver.Valuer).
func (a *authLookups) answer(batch []*authLookup) {
	defer func() {
		for _, l := range batch {
			close(l.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), queryWait)
	defer cancel()
	var err error
	if len(batch) == 1 {
		l := batch[0]
		var r authRow
		err = a.pool.QueryRow(ctx, authOne, [16]byte(l.userID), [16]byte(l.sessionID)).Scan(r.dest()...)
		if err == nil {
			l.found(&r)
		}
	} else {
		err = a.answerMany(ctx, batch)
	}
	if err != nil {
		err = translate(err, "get user and session") // ErrNotFound for no row
		for _, l := range batch {
			l.u, l.s, l.err = user.User{}, user.Session{}, err
		}
	}
}

// answerMany answers a batch of more than one lookup with authMany.
func (a *authLookups) answerMany(ctx context.Context, batch []*authLookup) error {
	userIDs, sessionIDs := make([][16]byte, len(batch)), make([][16]byte, len(batch))
	for i, l := range batch {
		userIDs[i], sessionIDs[i] = [16]byte(l.userID), [16]byte(l.sessionID)
		l.err = user.ErrNotFound // unless a row says otherwise
	}
	rows, err := a.pool.Query(ctx, authMany, userIDs, sessionIDs)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		i int
		r authRow
	)
	dest := append([]any{&i}, r.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if i >= 1 && i <= len(batch) { // always: i is a position in the arrays sent
			batch[i-1].found(&r)
		}
	}
	return rows.Err()
}
