package upgradetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/storetest"
)

// The kinds of database, as the tests name them.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "postgres"
)

// kinds are the databases every test runs on.
var kinds = []string{kindSQLite, kindPostgres}

// sqliteFile is the name cmd/usersvc gives the database in its data
// directory.
const sqliteFile = "usersvc.db"

// database is a new, empty database of one kind, dropped (or deleted) at
// the end of the test.
type database struct {
	kind string
	dir  string // the data directory
	url  string // PostgreSQL only
	kek  string // the key encryption key every process on it shares
}

// newDatabase makes an empty database of kind. PostgreSQL needs
// storetest.EnvPostgresURL: without it the test skips, except under CI.
func newDatabase(t *testing.T, kind string) database {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	db := database{kind: kind, dir: t.TempDir(), kek: base64.StdEncoding.EncodeToString(key)}
	if kind == kindPostgres {
		db.url = newPostgresDatabase(t)
	}
	return db
}

// newPostgresDatabase creates an empty database on the server named by
// storetest.EnvPostgresURL and returns its URL; it is dropped in t.Cleanup.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv(storetest.EnvPostgresURL)
	if server == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(storetest.EnvPostgresURL + " is not set but CI is: the PostgreSQL upgrade tests must run in CI")
		}
		t.Skip(storetest.EnvPostgresURL + " is not set: skipping the PostgreSQL upgrade tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to %s: %v", storetest.EnvPostgresURL, err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	name := "usersvc_upgrade_" + strings.ToLower(rand.Text())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { dropPostgresDatabase(t, server, name) })
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("parse %s: %v", storetest.EnvPostgresURL, err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// dropPostgresDatabase drops name, closing what is still connected to it.
func dropPostgresDatabase(t *testing.T, server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Errorf("drop database %s: %v", name, err)
		return
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("drop database %s: %v", name, err)
	}
}

// Settings every process of the tests gets, beside the database's.
var baseEnv = []string{
	"USERSVC_ENV=development",
	"USERSVC_LOG_LEVEL=info",
	"USERSVC_BCRYPT_COST=4",          // the cheapest: the tests check behaviour, not hashing
	"USERSVC_RATE_LIMITS=off",        // every request comes from one address
	"USERSVC_REFRESH_REUSE_GRACE=0s", // a reused refresh token revokes at once
	"USERSVC_MAILER=log",             // mail (tokens included) goes to the log
	"USERSVC_OPS_ADDR=127.0.0.1:0",   // where versions have an operations port: any free one
	"USERSVC_BOOTSTRAP_ADMIN_EMAIL=" + admin.email,
	"USERSVC_BOOTSTRAP_ADMIN_USERNAME=" + admin.username,
	"USERSVC_BOOTSTRAP_ADMIN_PASSWORD=" + admin.password,
}

// env returns the settings of a process on db; migrateOnStart says whether
// serving applies pending migrations first.
func (db database) env(migrateOnStart bool) []string {
	env := append([]string{
		"USERSVC_DATA_DIR=" + db.dir,
		"USERSVC_KEY_ENCRYPTION_KEY=" + db.kek,
		"USERSVC_MIGRATE_ON_START=" + strconv.FormatBool(migrateOnStart),
	}, baseEnv...)
	if db.url != "" {
		env = append(env, "DATABASE_URL="+db.url)
	}
	return env
}

// store is what the tests use of a store of the current tree.
type store interface {
	Migrator() (*goose.Provider, error)
	Close() error
}

// migrator returns a goose provider of the current tree's migrations on
// db, run in this process; it and its store close in t.Cleanup.
func (db database) migrator(t *testing.T) *goose.Provider {
	t.Helper()
	var s store
	var err error
	if db.kind == kindPostgres {
		s, err = postgres.Open(t.Context(), db.url)
	} else {
		s, err = sqlite.Open(t.Context(), filepath.Join(db.dir, sqliteFile))
	}
	if err != nil {
		t.Fatalf("open the %s database: %v", db.kind, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	p, err := s.Migrator()
	if err != nil {
		t.Fatalf("migrator: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// sql opens db with database/sql, for checks of the schema.
func (db database) sql(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", db.url
	if db.kind == kindSQLite {
		driver, dsn = "sqlite", filepath.Join(db.dir, sqliteFile)
	}
	h, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", db.kind, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// migration is one migration file as `usersvc migrate status` lists it.
type migration struct {
	version int64
	file    string
	applied bool
}

// statusLine matches a line of `usersvc migrate status`:
// "<kind> <file> applied <time>" or "<kind> <file> pending".
var statusLine = regexp.MustCompile(`^\S+\s+((\d+)_\S+\.sql)\s+(applied|pending)`)

// migrations returns the migrations bin knows, and their state on db.
func (db database) migrations(t *testing.T, bin binary) []migration {
	t.Helper()
	out, err := command(bin.path, db.env(false), "migrate", "status")
	if err != nil {
		t.Fatalf("%s: %v", bin.version, err)
	}
	var ms []migration
	for _, line := range strings.Split(out, "\n") {
		m := statusLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, _ := strconv.ParseInt(m[2], 10, 64)
		ms = append(ms, migration{version: v, file: m[1], applied: m[3] == "applied"})
	}
	if len(ms) == 0 {
		t.Fatalf("%s migrate status listed no migration:\n%s", bin.version, out)
	}
	return ms
}

// newer returns the migrations of cur that are newer than every one of
// prev, and fails the test when prev has one that cur lacks: migrations
// are never removed or renamed once released.
func newer(t *testing.T, prev, cur []migration) []migration {
	t.Helper()
	files := map[string]bool{}
	for _, m := range cur {
		files[m.file] = true
	}
	var last int64
	for _, m := range prev {
		if !files[m.file] {
			t.Errorf("migration %s of the previous release is missing from the current tree: a released migration is never removed or renamed", m.file)
		}
		last = max(last, m.version)
	}
	var out []migration
	for _, m := range cur {
		if m.version > last {
			out = append(out, m)
		}
	}
	return out
}

// lastVersion is the newest version of ms.
func lastVersion(ms []migration) int64 {
	var v int64
	for _, m := range ms {
		v = max(v, m.version)
	}
	return v
}

// String names a migration by its file, as failures do.
func (m migration) String() string { return fmt.Sprintf("migration %s", m.file) }
