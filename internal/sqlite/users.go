// Package sqlite implements the store ports of package user on an embedded
// SQLite database through modernc.org/sqlite, a pure Go driver (no cgo).
// DB is the database handle (here, with the user rows); the ports over it,
// handed out by DB.Stores, are Users (users.go, admin.go, rehash.go),
// Sessions (sessions.go, usersession.go), AccountTokens
// (account_tokens.go), EmailChanges (email_changes.go) and Audit
// (audit.go), and Transactor (tx.go) runs calls of them in one
// transaction. Its schema lives in the embedded
// migrations folder and is applied with goose (see DB.Migrator).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	modernc "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usersvc/usersvc/internal/user"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an SQLite database file: its connection pools, shared by the
// stores Stores returns and by SigningKeys. It is safe for concurrent use.
//
// SQLite lets one connection write at a time. Every write goes through
// write, a pool of exactly one connection, so concurrent writers queue in Go
// instead of failing with SQLITE_BUSY; reads go through read, several
// read-only connections that WAL mode lets run beside the writer.
type DB struct {
	path  string
	write *sql.DB
	read  *sql.DB
	// prepared are the reading pool's prepared statements (usersession.go).
	prepared statements
	// outbox makes the Outbox of a transaction (nil outside one); nil: the
	// stores have none (see UseOutbox).
	outbox func(*sql.Tx) user.Outbox
}

// UseOutbox makes the Stores of this database queue mail and events
// through the Outbox f returns for each transaction (f gets nil for the
// Stores outside one, whose Outbox must refuse). Call it once, before
// Stores, from the composition root: the queue (internal/jobs) lives
// in this database but is not the store's business.
func (s *DB) UseOutbox(f func(*sql.Tx) user.Outbox) { s.outbox = f }

// Writer is the pool of the one writing connection, for the job queue,
// whose writes take their turn with the stores' (SQLite has one writer).
func (s *DB) Writer() *sql.DB { return s.write }

// Open opens (creating it if needed) the database file at path, creating its
// parent directory with mode 0700 when missing. The file and its -wal and
// -shm companions are readable by their owner only (0600), whatever the
// umask, and an existing file open to others is narrowed to that. It does
// not migrate: run Migrator first.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite database: empty path")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	if err := ownerOnly(path, true); err != nil {
		return nil, err
	}
	// The writer opens first: its first connection switches the file to WAL.
	write, err := openPool(ctx, dsn(path, "_txlock", "immediate"), 1)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	// SQLite creates the -wal and -shm files with the database file's mode;
	// one left by an earlier run may be wider.
	for _, companion := range []string{path + "-wal", path + "-shm"} {
		if err := ownerOnly(companion, false); err != nil {
			_ = write.Close()
			return nil, err
		}
	}
	read, err := openPool(ctx, dsn(path, "_query_only", "1"), max(4, runtime.NumCPU()))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return &DB{path: path, write: write, read: read}, nil
}

// databaseFileMode is the mode of the database file and its companions:
// they hold every password hash and session.
const databaseFileMode = 0o600

// ownerOnly makes the file at path private to its owner. With create, a
// missing file is created with mode databaseFileMode, set again by chmod,
// which unlike the mode given at creation does not depend on the umask.
// An existing file loses whatever group and others may do; a missing file
// without create is left missing.
func ownerOnly(path string, create bool) error {
	if create {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, databaseFileMode) // #nosec G304 -- the operator's database file
		if err == nil {
			if err = errors.Join(f.Close(), os.Chmod(path, databaseFileMode)); err != nil {
				return fmt.Errorf("create database file: %w", err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create database file: %w", err)
		}
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil
	}
	if err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(path, perm&^0o077); err != nil {
			return fmt.Errorf("make %s private to its owner (mode 0600): %w", path, err)
		}
	}
	return nil
}

// dsn returns a "file:" URI for path (escaped, so any file name works) with
// the connection settings every connection needs, plus extra key/value pairs.
func dsn(path string, extra ...string) string {
	q := url.Values{}
	for _, pragma := range []string{
		"busy_timeout(5000)", // wait, rather than fail, when the file is locked (first: switching to WAL may meet a lock)
		"journal_mode(WAL)",  // readers do not block the writer, nor it them
		"foreign_keys(ON)",
		"synchronous(NORMAL)", // safe with WAL: a crash may lose the last commits, never corrupt
		// Zero what a delete frees (a row's bytes, a page left empty), so a
		// deleted account or a purged session is not left in the file's
		// free space for whoever copies it (docs/security.md, "Erasure").
		"secure_delete(ON)",
	} {
		q.Add("_pragma", pragma)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Add(extra[i], extra[i+1])
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// openPool opens a pool of at most conns connections, keeping all of them
// idle rather than paying the connection setup again, and checks that one
// connection opens.
func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// writeWait bounds a write, its turn at the single writer connection and
// SQLite's busy timeout included, so that a locked file fails fast with
// ErrUnavailable instead of queueing every writer behind the lock.
const writeWait = 5 * time.Second

// Close closes both pools.
func (s *DB) Close() error {
	return errors.Join(s.prepared.close(), s.read.Close(), s.write.Close())
}

// Migrator returns a goose provider for the embedded migrations, running on
// its own connection to the database file, under a lock (a file beside the
// database) that lets one process migrate it at a time. Close the provider
// when done: that closes only its connection, never the store.
func (s *DB) Migrator() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations folder: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(s.path, "_txlock", "immediate"))
	if err != nil {
		return nil, fmt.Errorf("open migration connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	return newMigrator(db, fsys, s.path+migrationLockSuffix) // migrate.go: one process at a time
}

// Ping reports whether both the reading and the writing connections answer.
func (s *DB) Ping(ctx context.Context) error {
	if err := errors.Join(s.read.PingContext(ctx), s.write.PingContext(ctx)); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Users is the SQLite user.Users.
type Users struct{ conn }

var _ user.Users = (*Users)(nil)

// userColumns lists, in scanUser's order, the columns of a user.User; a NULL
// full_name reads as "".
const userColumns = `id, email, username, hashed_password, COALESCE(full_name, ''),
	is_active, token_version, created_at, updated_at, role, email_verified, COALESCE(recovery_email, email)`

// Create inserts u; an empty FullName is stored as NULL.
func (s *Users) Create(ctx context.Context, u user.User) (user.User, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		INSERT INTO users (id, email, username, hashed_password, full_name, role, email_verified, recovery_email)
		VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), COALESCE(NULLIF(?6, ''), 'user'), ?7, ?2)
		RETURNING ` + userColumns
	row := s.writeRow(ctx, q, u.ID, u.Email, u.Username, u.PasswordHash, u.FullName,
		string(u.Role), u.EmailVerified)
	created, err := scanUser(row)
	if err != nil {
		return user.User{}, translate(err, "create user")
	}
	return created, nil
}

// ByID returns the user with that id.
func (s *Users) ByID(ctx context.Context, id uuid.UUID) (user.User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	u, err := scanUser(s.readRow(ctx, q, id))
	if err != nil {
		return user.User{}, translate(err, "get user by id")
	}
	return u, nil
}

// ByEmail returns the user whose email matches, ignoring letter case.
func (s *Users) ByEmail(ctx context.Context, email string) (user.User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower(?)`
	u, err := scanUser(s.readRow(ctx, q, email))
	if err != nil {
		return user.User{}, translate(err, "get user by email")
	}
	return u, nil
}

// ByUsername returns the user whose username matches, ignoring letter case.
func (s *Users) ByUsername(ctx context.Context, username string) (user.User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE lower(username) = lower(?)`
	u, err := scanUser(s.readRow(ctx, q, username))
	if err != nil {
		return user.User{}, translate(err, "get user by username")
	}
	return u, nil
}

// nextUpdatedAt is the updated_at every UPDATE sets: now, or one millisecond
// after the previous value if that is later, so that updated_at advances on
// every change even within one millisecond (SQLite's clock resolution) or
// when the system clock steps back.
const nextUpdatedAt = `max(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
	strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+0.001 seconds'))`

// Update applies p in one statement: a nil field keeps its value, a FullName
// of "" clears it, and an email changed other than in letter case is no
// longer verified. A patch that removes an administrator takes the slower
// path of updateKeepingAdmin (admin.go), which refuses to remove the last
// one.
func (s *Users) Update(ctx context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	if p.RemovesAdmin() {
		return s.updateKeepingAdmin(ctx, id, p)
	}
	ctx, cancel := s.wait(ctx)
	defer cancel()
	u, err := scanUser(s.writeRow(ctx, updateUser, updateArgs(id, p)...))
	if err != nil {
		return user.User{}, translate(err, "update user")
	}
	return u, nil
}

// updateUser is Update's statement; updateArgs gives its arguments.
const updateUser = `
	UPDATE users
	SET full_name      = CASE WHEN ?1 IS NULL THEN full_name ELSE NULLIF(?1, '') END,
	    email          = COALESCE(?2, email),
	    email_verified = CASE WHEN ?6 = 1 THEN 1
	                          WHEN ?2 IS NOT NULL AND lower(?2) <> lower(email) THEN 0 ELSE email_verified END,
	    recovery_email = CASE WHEN ?6 = 1 THEN COALESCE(?2, email)
	                          WHEN ?2 IS NOT NULL AND lower(?2) <> lower(email) THEN COALESCE(recovery_email, email)
	                          ELSE recovery_email END,
	    is_active      = COALESCE(?4, is_active),
	    role           = COALESCE(?5, role),
	    updated_at     = ` + nextUpdatedAt + `
	WHERE id = ?3
	RETURNING ` + userColumns

func updateArgs(id uuid.UUID, p user.Patch) []any {
	var role *string
	if p.Role != nil {
		role = (*string)(p.Role)
	}
	return []any{p.FullName, p.Email, id, p.IsActive, role, p.EmailVerified}
}

// SetPassword stores hash and increments the token version in one statement.
func (s *Users) SetPassword(ctx context.Context, id uuid.UUID, hash string) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		UPDATE users
		SET hashed_password = ?, token_version = token_version + 1,
		    updated_at = ` + nextUpdatedAt + `
		WHERE id = ?`
	res, err := s.exec(ctx, q, hash, id)
	return affectedOne(res, err, "set password")
}

// affectedOne turns the result of a statement on one user by id into
// ErrNotFound when it touched no row.
func affectedOne(res sql.Result, err error, op string) error {
	if err != nil {
		return translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return user.ErrNotFound
	}
	return nil
}

// wroteOne says whether a statement that changes at most one row (a
// conditional insert or update) changed it.
func wroteOne(res sql.Result, err error, op string) (bool, error) {
	if err != nil {
		return false, translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, translate(err, op)
	}
	return n == 1, nil
}

// scanUser reads one row of userColumns, parsing the text timestamps.
func scanUser(row interface{ Scan(...any) error }) (user.User, error) {
	var (
		u                user.User
		created, updated string
	)
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.PasswordHash, &u.FullName,
		&u.IsActive, &u.TokenVersion, &created, &updated, &u.Role, &u.EmailVerified, &u.TrustedEmail)
	if err != nil {
		return user.User{}, err
	}
	if err := parseUserTime(created, &u.CreatedAt); err != nil {
		return user.User{}, fmt.Errorf("created_at: %w", err)
	}
	if err := parseUserTime(updated, &u.UpdatedAt); err != nil {
		return user.User{}, fmt.Errorf("updated_at: %w", err)
	}
	return u, nil
}

// parseUserTime reads a time of the users table (RFC 3339 text) into dst.
func parseUserTime(s string, dst *time.Time) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	*dst = t
	return err
}

// Names of the unique indexes of migrations/00001_create_users.sql. SQLite
// reports a violation of an index on an expression as
// "UNIQUE constraint failed: index 'name'".
const (
	emailIndex    = "users_email_lower_key"
	usernameIndex = "users_username_lower_key"
)

// translate maps a driver error to the user package's sentinels and wraps
// anything else with op.
func translate(err error, op string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return user.ErrNotFound
	}
	if e, ok := errors.AsType[*modernc.Error](err); ok && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		switch msg := e.Error(); {
		case strings.Contains(msg, "'"+emailIndex+"'"):
			return user.ErrEmailTaken
		case strings.Contains(msg, "'"+usernameIndex+"'"):
			return user.ErrUsernameTaken
		}
	}
	if errors.Is(err, context.DeadlineExceeded) { // writeWait passed
		return fmt.Errorf("%s: %w: %w", op, user.ErrUnavailable, err)
	}
	if e, ok := errors.AsType[*modernc.Error](err); ok && unavailable(e.Code()) {
		return fmt.Errorf("%s: %w: %w", op, user.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether an SQLite result code (extended or primary)
// says the file cannot be used now rather than that the statement is wrong:
// locked past the busy timeout, read-only, a failed read or write, a full
// disk, a file that cannot be opened, or a statement interrupted at
// writeWait.
func unavailable(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_INTERRUPT:
		return true
	}
	return false
}

// Stats returns the statistics of the writer and the reader pools.
func (s *DB) Stats() (writer, reader sql.DBStats) {
	return s.write.Stats(), s.read.Stats()
}
