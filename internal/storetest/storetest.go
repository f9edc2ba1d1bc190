// Package storetest gives tests fresh, migrated stores on every database:
// an SQLite file in a temporary directory, and a throwaway PostgreSQL
// database on the server named by USERSVC_TEST_POSTGRES_URL.
//
// SQLite files are copies of a template file migrated once per test
// process (WriteSQLite).
//
// PostgreSQL databases are clones of a template database that is migrated
// once per test process, which takes a few tens of milliseconds per test
// instead of a full migration. Each test database is dropped in the test's
// Cleanup. The template is dropped by Main when the process's tests end, so a
// package whose tests use PostgreSQL must have
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// and PostgresURL fails the test if it is missing. Every database this
// package makes is named usersvc_tmpl_<random> (templates) or
// usersvc_t_<random> (tests), and it only ever drops the databases its own
// process created, since the server may be shared. A test process killed
// before its cleanups run (for example on a -timeout panic) leaves its
// databases behind; the prefixes make them easy to find.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// EnvPostgresURL names the environment variable holding the URL of the
// PostgreSQL server tests may create databases on, for example
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. The user
// needs the CREATEDB privilege.
const EnvPostgresURL = "USERSVC_TEST_POSTGRES_URL"

// DB is what the database handles of both stores, *sqlite.DB and
// *postgres.DB, offer tests: the store ports of package user, the signing
// keys, Ping and Close.
type DB interface {
	Stores() user.Stores
	SigningKeys() signing.Repository
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ DB = (*sqlite.DB)(nil)
	_ DB = (*postgres.DB)(nil)
)

// Store is one kind of store, for tests that run on every kind.
type Store struct {
	Name string                // "sqlite" or "postgres", fit for t.Run
	Open func(t testing.TB) DB // a fresh migrated database, closed in t.Cleanup
}

// All returns every kind of store:
//
//	for _, s := range storetest.All() {
//		t.Run(s.Name, func(t *testing.T) { stores := s.Open(t).Stores(); ... })
//	}
//
// The PostgreSQL one skips the test when EnvPostgresURL is unset, and needs
// storetest.Main in the package's TestMain (see PostgresURL).
func All() []Store {
	return []Store{
		{Name: "sqlite", Open: func(t testing.TB) DB { return SQLite(t) }},
		{Name: "postgres", Open: func(t testing.TB) DB { return Postgres(t) }},
	}
}

// SQLite returns a fresh, migrated database in a file under t.TempDir(),
// closed in t.Cleanup: a copy of the process's template (WriteSQLite).
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usersvc.db")
	WriteSQLite(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close sqlite: %v", err)
		}
	})
	return s
}

// WriteSQLite writes a migrated SQLite database file at path, a copy of a
// template file migrated once per test process: migrating takes most of a
// second under the race detector (goose reads every migration, and
// SQLite's C, translated to Go, runs instrumented), a copy a millisecond.
func WriteSQLite(t testing.TB, path string) {
	t.Helper()
	b, err := sqliteTemplate()
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		t.Fatalf("storetest: SQLite template: %v", err)
	}
}

// sqliteTemplate is the migrated template's content, made on first use.
// Process-wide by necessity, as the PostgreSQL template is.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "storetest-sqlite-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(dir, "usersvc.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	p, err := db.Migrator()
	if err == nil {
		_, err = p.Up(ctx)
		err = errors.Join(err, p.Close())
	}
	if cerr := db.Close(); err == nil { // the last connection out folds the WAL into the file
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return os.ReadFile(path) //nolint:gosec // the file this helper just made in its own temporary directory
})

// Postgres opens a fresh database from PostgresURL, closed in t.Cleanup
// (before the database is dropped).
func Postgres(t testing.TB) *postgres.DB {
	t.Helper()
	dbURL := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // never fails
	return s
}

// PostgresURL returns the URL of a fresh, migrated PostgreSQL database on
// the server named by EnvPostgresURL, dropped in t.Cleanup. When the variable
// is unset the test is skipped, except when CI is set (as CI services do):
// there a missing database is a failure, not a reason to skip. The test
// fails if the package's TestMain does not call Main, which drops the
// template this process clones.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return postgresURL(t, os.Getenv)
}

func postgresURL(t testing.TB, getenv func(string) string) string {
	t.Helper()
	server := getenv(EnvPostgresURL)
	if server == "" {
		if getenv("CI") != "" {
			t.Fatal("storetest: " + EnvPostgresURL + " is not set but CI is: PostgreSQL tests must run in CI; " +
				"set it to a server URL such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		}
		t.Skip(EnvPostgresURL + " is not set: skipping PostgreSQL tests (set it to a server URL to run them)")
	}
	if !mainRunning.Load() {
		t.Fatal("storetest: PostgreSQL tests need storetest.Main to drop the template database at exit; " +
			"add func TestMain(m *testing.M) { storetest.Main(m) } to this package's tests")
	}
	c, err := cluster.get(server)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	name, err := c.clone()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.drop(name); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return c.url(name)
}

// Main runs the tests of a package, then drops the template database if one
// was made. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain that has more to clean up
// once the tests are over: it returns the exit code.
func Run(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	if err := cluster.close(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Process-wide state, by necessity: the template is shared by every test of
// the process, and Main must find it to drop it.
var (
	mainRunning atomic.Bool
	cluster     sharedServer
)

// sharedServer makes the process's server connection and template once.
type sharedServer struct {
	mu   sync.Mutex
	done bool
	s    *server
	err  error
}

func (c *sharedServer) get(rawURL string) (*server, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.s, c.err = newServer(rawURL)
		c.done = true
	}
	return c.s, c.err
}

func (c *sharedServer) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return nil
	}
	err := c.s.close()
	c.s = nil
	return err
}

// server is a PostgreSQL server with this process's migrated template.
type server struct {
	base     *url.URL      // the server URL; its path names the admin database
	admin    *pgxpool.Pool // on the admin database: creates and drops the others
	template string
}

// timeout bounds each administrative step.
const timeout = 2 * time.Minute

func newServer(rawURL string) (*server, error) {
	base, err := url.Parse(rawURL)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL, got %q", EnvPostgresURL, redact(rawURL))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	admin, err := pgxpool.New(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", EnvPostgresURL, err)
	}
	s := &server{base: base, admin: admin, template: "usersvc_tmpl_" + strings.ToLower(rand.Text())}
	// template0 rather than the default template1: nobody can be connected
	// to it, which CREATE DATABASE would refuse, and it holds nothing a
	// server's owner may have added to template1.
	if err := s.create(ctx, s.template, "template0"); err != nil {
		admin.Close()
		return nil, err
	}
	if err := s.migrateTemplate(ctx); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

// migrateTemplate migrates the template, then forbids connections to it:
// PostgreSQL copies a database only while nobody is connected to it.
func (s *server) migrateTemplate(ctx context.Context) error {
	store, err := postgres.Open(ctx, s.url(s.template))
	if err != nil {
		return fmt.Errorf("open template database: %w", err)
	}
	defer store.Close()
	p, err := store.Migrator()
	if err != nil {
		return fmt.Errorf("template migrator: %w", err)
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	q := `ALTER DATABASE ` + ident(s.template) + ` WITH ALLOW_CONNECTIONS false`
	if _, err := s.admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("close template database: %w", err)
	}
	return nil
}

// clone creates a new database from the template and returns its name.
func (s *server) clone() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	name := "usersvc_t_" + strings.ToLower(rand.Text())
	return name, s.create(ctx, name, s.template)
}

// create creates the database name as a copy of template.
func (s *server) create(ctx context.Context, name, template string) error {
	q := `CREATE DATABASE ` + ident(name) + ` TEMPLATE ` + ident(template)
	if _, err := s.admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// drop drops the database name, closing any connection left to it.
func (s *server) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	q := `DROP DATABASE IF EXISTS ` + ident(name) + ` WITH (FORCE)`
	if _, err := s.admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// close drops the template and disconnects.
func (s *server) close() error {
	defer s.admin.Close()
	return s.drop(s.template)
}

// url returns the URL of the database name on the server.
func (s *server) url(name string) string {
	u := *s.base
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// ident quotes a database name made by this package.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// redact hides the password of a URL for error messages.
func redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// SigningKeys returns the signing-key store on the database db.
func SigningKeys(t testing.TB, db DB) signing.Repository {
	t.Helper()
	return db.SigningKeys()
}
