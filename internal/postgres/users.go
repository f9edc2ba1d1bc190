// Package postgres implements the store ports of package user on
// PostgreSQL through a pgx connection pool. DB is the database handle
// (here, with the user rows); the ports over it, handed out by DB.Stores,
// are Users (users.go, admin.go, rehash.go), Sessions (sessions.go,
// usersession.go), AccountTokens (account_tokens.go), EmailChanges
// (email_changes.go) and Audit (audit.go), and Transactor (tx.go) runs
// calls of them in one transaction.
// Its schema lives in the embedded migrations folder and is applied with
// goose (see DB.Migrator).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/user"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL database: its connection pool, shared by the stores
// Stores returns and by SigningKeys. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	auth *authLookups // Sessions.UserSession's batches (usersession.go)
	// outbox makes the Outbox of a transaction (nil outside one); nil: the
	// stores have none (see UseOutbox).
	outbox func(pgx.Tx) user.Outbox
}

// UseOutbox makes the Stores of this database queue mail and events
// through the Outbox f returns for each transaction (f gets nil for the
// Stores outside one, whose Outbox must refuse). Call it once, before
// Stores, from the composition root: the queue (internal/jobs) lives
// in this database but is not the store's business.
func (s *DB) UseOutbox(f func(pgx.Tx) user.Outbox) { s.outbox = f }

// defaultConnectTimeout bounds a new connection's setup when the database
// URL sets no connect_timeout, so that requests fail fast (503) while the
// database is unreachable.
const defaultConnectTimeout = 5 * time.Second

// defaultMaxConns is the pool's size when the database URL sets no
// pool_max_conns, instead of pgxpool's max(4, cores). The load test's mix
// (docs/benchmarks.md, "Pool size") served as many requests with 4, 8 and
// 16 connections on 2 cores, and waited for a connection 2,523, 460-649
// and 95 times: 8 waits a fifth as often as 4 and holds half the
// connections of 16 (each a server process: deploy.md's connection
// budget).
const defaultMaxConns = 8

// queryWait bounds each call of the store, the wait for a pooled
// connection included, so that a database that stops answering (a hung
// server, a network that drops packets) gives ErrUnavailable, answered 503,
// instead of a request that hangs.
const queryWait = 5 * time.Second

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string), checks that it answers and returns the store. It does
// not migrate: run Migrator first.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &DB{pool: pool, auth: newAuthLookups(pool)}, nil
}

// poolConfig is the pool's configuration from url, with the service's
// defaults for what url leaves out: connect_timeout, and pool_max_conns.
func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the URL a connect to an unreachable host
		// waits for the OS (minutes), and so would every request meanwhile.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	set, err := setsMaxConns(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if !set {
		cfg.MaxConns = defaultMaxConns
	}
	return cfg, nil
}

// setsMaxConns reports whether url sets pool_max_conns, as a URL's query
// parameter or a keyword/value string's keyword. pgxpool.ParseConfig
// removes the setting from the Config it returns, so this asks the parser
// pgxpool reads it through (pgconn's): quoting, percent-encoding and a
// value that merely contains the name (a password, say) are read exactly
// as pgxpool reads them.
func setsMaxConns(url string) (bool, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return false, err
	}
	_, ok := cfg.RuntimeParams["pool_max_conns"]
	return ok, nil
}

// Close closes every connection of the pool, waiting for those in use. It
// always returns nil; the error is there so that both stores are io.Closers.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the underlying connection pool, for its statistics.
func (s *DB) Pool() *pgxpool.Pool { return s.pool }

// Migrator returns a goose provider for the embedded migrations, running on
// a database/sql handle over the store's pool, under a lock that lets one
// process migrate the database at a time. Close the provider when done:
// that releases only the handle, never the store's pool.
func (s *DB) Migrator() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations folder: %w", err)
	}
	return newMigrator(stdlib.OpenDBFromPool(s.pool), fsys) // migrate.go: one process at a time
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Users is the PostgreSQL user.Users.
type Users struct{ conn }

var _ user.Users = (*Users)(nil)

// userColumns lists, in scanUser's order, the columns of a user.User; a NULL
// full_name reads as "".
const userColumns = `id, email, username, hashed_password, COALESCE(full_name, ''),
	is_active, token_version, created_at, updated_at, role, email_verified, COALESCE(recovery_email, email)`

// Create inserts u; an empty FullName is stored as NULL.
func (s *Users) Create(ctx context.Context, u user.User) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO users (id, email, username, hashed_password, full_name, role, email_verified, recovery_email)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), COALESCE(NULLIF($6, ''), 'user'), $7, $2)
		RETURNING ` + userColumns
	var created user.User
	err := s.queryRowUndoable(ctx, func(row pgx.Row) (err error) {
		created, err = scanUser(row)
		return err
	}, q, u.ID, u.Email, u.Username, u.PasswordHash, u.FullName, string(u.Role), u.EmailVerified)
	if err != nil {
		return user.User{}, translate(err, "create user")
	}
	return created, nil
}

// ByID returns the user with that id.
func (s *Users) ByID(ctx context.Context, id uuid.UUID) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	u, err := scanUser(s.q.QueryRow(ctx, s.lockedInTx(q), id))
	if err != nil {
		return user.User{}, translate(err, "get user by id")
	}
	return u, nil
}

// ByEmail returns the user whose email matches, ignoring letter case.
func (s *Users) ByEmail(ctx context.Context, email string) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower($1)`
	u, err := scanUser(s.q.QueryRow(ctx, s.lockedInTx(q), email))
	if err != nil {
		return user.User{}, translate(err, "get user by email")
	}
	return u, nil
}

// ByUsername returns the user whose username matches, ignoring letter case.
func (s *Users) ByUsername(ctx context.Context, username string) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT ` + userColumns + ` FROM users WHERE lower(username) = lower($1)`
	u, err := scanUser(s.q.QueryRow(ctx, s.lockedInTx(q), username))
	if err != nil {
		return user.User{}, translate(err, "get user by username")
	}
	return u, nil
}

// Update applies p in one statement: a nil field keeps its value, a FullName
// of "" clears it, and an email changed other than in letter case is no
// longer verified (the trusted address keeps the old one when it had
// none), unless p.EmailVerified proves it. The trigger update_users_updated_at moves updated_at. A
// patch that removes an administrator takes the slower path of
// updateKeepingAdmin (admin.go), which refuses to remove the last one.
func (s *Users) Update(ctx context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	if p.RemovesAdmin() {
		return s.updateKeepingAdmin(ctx, id, p)
	}
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var u user.User
	err := s.queryRowUndoable(ctx, func(row pgx.Row) (err error) {
		u, err = scanUser(row)
		return err
	}, updateUser, updateArgs(id, p)...)
	if err != nil {
		return user.User{}, translate(err, "update user")
	}
	return u, nil
}

// updateUser is Update's statement; updateArgs gives its arguments.
const updateUser = `
	UPDATE users
	SET full_name      = CASE WHEN $2::text IS NULL THEN full_name ELSE NULLIF($2::text, '') END,
	    email          = COALESCE($3::text, email),
	    email_verified = CASE WHEN $6::boolean IS TRUE THEN TRUE
	                          WHEN $3::text IS NOT NULL AND lower($3::text) <> lower(email) THEN FALSE
	                          ELSE email_verified END,
	    recovery_email = CASE WHEN $6::boolean IS TRUE THEN COALESCE($3::text, email)
	                          WHEN $3::text IS NOT NULL AND lower($3::text) <> lower(email) THEN COALESCE(recovery_email, email)
	                          ELSE recovery_email END,
	    is_active      = COALESCE($4::boolean, is_active),
	    role           = COALESCE($5::text, role)
	WHERE id = $1
	RETURNING ` + userColumns

func updateArgs(id uuid.UUID, p user.Patch) []any {
	var role *string
	if p.Role != nil {
		role = (*string)(p.Role)
	}
	return []any{id, p.FullName, p.Email, p.IsActive, role, p.EmailVerified}
}

// SetPassword stores hash and increments the token version in one statement.
func (s *Users) SetPassword(ctx context.Context, id uuid.UUID, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE users
		SET hashed_password = $2, token_version = token_version + 1
		WHERE id = $1`
	tag, err := s.q.Exec(ctx, q, id, hash)
	if err != nil {
		return translate(err, "set password")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrNotFound
	}
	return nil
}

// scanUser reads one row of userColumns. Times come back in UTC, as from
// every store.
func scanUser(row pgx.Row) (user.User, error) {
	var u user.User
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, &u.FullName,
		&u.IsActive, &u.TokenVersion, &u.CreatedAt, &u.UpdatedAt, &u.Role, &u.EmailVerified, &u.TrustedEmail)
	if err != nil {
		return user.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// Names of the unique indexes of migrations/00001_create_users.sql.
const (
	emailIndex    = "users_email_lower_key"
	usernameIndex = "users_username_lower_key"
)

// uniqueViolation is the SQLSTATE of unique_violation.
const uniqueViolation = "23505"

// translate maps a driver error to the user package's sentinels and wraps
// anything else with op.
func translate(err error, op string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return user.ErrNotFound
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == uniqueViolation {
		switch pgErr.ConstraintName {
		case emailIndex:
			return user.ErrEmailTaken
		case usernameIndex:
			return user.ErrUsernameTaken
		}
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, user.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether err says the server cannot be reached or is
// going away (rather than that the statement is wrong): a failed connect, a
// broken, closed or timed-out connection, or a server error of class 08 (connection
// exception), 57P01-57P03 (shutting down, crashed, starting up) or 53300
// (too many connections).
func unavailable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "53300":
			return true
		}
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return pgconn.Timeout(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, pgconn.ErrConnClosed) // a statement on a transaction's connection after it broke
}
