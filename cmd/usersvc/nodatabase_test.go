package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/storetest"
)

// commandsOnTheData are the commands that read or change the service's
// data: none of them may make a database. (migrate makes it, and its
// status lists every migration pending on a new one.)
var commandsOnTheData = [][]string{
	{"create-admin", "--email", "root@example.com", "--username", "root"},
	{"audit", "prune", "--before", "2020-01-01"},
	{"clients", "list"},
	{"keys", "list"},
	{"retention", "run"},
	{"webhooks", "list"},
	{"webhooks", "create", "--url", "https://hooks.example.com/x", "--types", "*"},
}

// TestCommandsRefuseAMissingDatabase: without DATABASE_URL, a command on
// the data made an empty ./data/usersvc.db and then failed with "no such
// table"; an operator's typo in USERSVC_DATA_DIR left a fresh database
// that looks like one whose users are all gone. Each now refuses, saying
// where it looked and what to do, exit code 1, and creates nothing.
func TestCommandsRefuseAMissingDatabase(t *testing.T) {
	for _, args := range commandsOnTheData {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "typo")
			err := run(context.Background(), args, []string{"USERSVC_DATA_DIR=" + dir}, io.Discard)
			want := "no database at " + filepath.Join(dir, "usersvc.db")
			if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "usersvc migrate up") {
				t.Errorf("%q = %v (exit %d), want exit 1 saying %q and to migrate", args, err, code, want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%q left %s behind (stat: %v), want nothing created", args, dir, err)
			}
		})
	}
}

// TestCommandsRefuseAnEmptyDatabase: the empty file an earlier release
// left behind (or a database never migrated) is refused with the same
// advice instead of "no such table", and stays empty: the check used to
// leave goose's version table behind in it.
func TestCommandsRefuseAnEmptyDatabase(t *testing.T) {
	for _, args := range commandsOnTheData {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "usersvc.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			err := run(context.Background(), args, []string{"USERSVC_DATA_DIR=" + dir}, io.Discard)
			if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), "usersvc migrate up") {
				t.Errorf("%q on an empty database = %v (exit %d), want exit 1 saying to migrate", args, err, code)
			}
			wantNoTables(t, sqliteTables(t, path))
		})
	}
}

// serveWithoutMigrating runs serve with USERSVC_MIGRATE_ON_START=false
// and environ until it returns; the bound only ends a serve that wrongly
// started.
func serveWithoutMigrating(t *testing.T, environ ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return run(ctx, []string{"serve"}, append([]string{
		"USERSVC_MIGRATE_ON_START=false", "USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR=127.0.0.1:0", "USERSVC_BCRYPT_COST=4",
	}, environ...), io.Discard)
}

// TestServeWithoutMigratingRefusesAMissingDatabase: serve with
// USERSVC_MIGRATE_ON_START=false on a data directory without a database
// made an empty one (and a development key beside it), then failed with
// "no such table: signing_keys". It now refuses as the commands on the
// data do, saying where it looked, that it does not migrate and to run
// `usersvc migrate up`, exit code 1, and creates nothing.
func TestServeWithoutMigratingRefusesAMissingDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	err := serveWithoutMigrating(t, "USERSVC_DATA_DIR="+dir)
	for _, want := range []string{"no database at " + filepath.Join(dir, "usersvc.db"), "usersvc migrate up", "USERSVC_MIGRATE_ON_START=false"} {
		if exitCode(err) != 1 || !strings.Contains(err.Error(), want) {
			t.Errorf("serve = %v (exit %d), want exit 1 saying %q", err, exitCode(err), want)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve left %s behind (stat: %v), want nothing created", dir, err)
	}
}

// TestServeWithoutMigratingRefusesAnUnmigratedDatabase: on an empty
// SQLite file or an empty PostgreSQL database, serve with
// USERSVC_MIGRATE_ON_START=false failed with "no such table" or
// "relation does not exist" after generating a development key. It now
// refuses before anything else, saying to run `usersvc migrate up`, and
// leaves the database without a table: its check used to create goose's
// version table, so a refused start wrote to the database it refused.
func TestServeWithoutMigratingRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "usersvc.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wantUnmigratedRefused(t, dir, serveWithoutMigrating(t, "USERSVC_DATA_DIR="+dir))
		wantNoTables(t, sqliteTables(t, path))
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL, dir := storetest.PostgresURL(t), t.TempDir()
		emptySchema(t, dbURL)
		wantUnmigratedRefused(t, dir, serveWithoutMigrating(t, "USERSVC_DATA_DIR="+dir, "DATABASE_URL="+dbURL))
		wantNoTables(t, postgresTables(t, dbURL))
	})
}

// TestCommandsRefuseAnUnmigratedPostgresDatabase: the commands on the data
// refuse an empty PostgreSQL database as they refuse an empty SQLite
// file, and leave it without a table.
func TestCommandsRefuseAnUnmigratedPostgresDatabase(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	emptySchema(t, dbURL)
	for _, args := range commandsOnTheData {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			err := run(context.Background(), args, []string{"USERSVC_DATA_DIR=" + t.TempDir(), "DATABASE_URL=" + dbURL}, io.Discard)
			if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), "migrations to apply") {
				t.Errorf("%q on an empty database = %v (exit %d), want exit 1 saying to migrate", args, err, code)
			}
			wantNoTables(t, postgresTables(t, dbURL))
		})
	}
}

// emptySchema leaves the database at dbURL as createdb does: no tables.
func emptySchema(t *testing.T, dbURL string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(t.Context()) }()
	if _, err := conn.Exec(t.Context(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
}

// sqliteTables lists the tables of the SQLite file at path.
func sqliteTables(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// postgresTables lists the tables of the database at dbURL outside the
// system's schemas.
func postgresTables(t *testing.T, dbURL string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(t.Context()) }()
	rows, _ := conn.Query(t.Context(), `SELECT schemaname || '.' || tablename FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// wantNoTables fails unless tables is empty: a refused database is left
// as it was found.
func wantNoTables(t *testing.T, tables []string) {
	t.Helper()
	if len(tables) != 0 {
		t.Errorf("the refused database has tables %q, want none (a check must not write)", tables)
	}
}

// wantUnmigratedRefused checks that err refuses an unmigrated database
// and that serve made nothing in the data directory dir beside it.
func wantUnmigratedRefused(t *testing.T, dir string, err error) {
	t.Helper()
	for _, want := range []string{"migrations to apply", "usersvc migrate up", "USERSVC_MIGRATE_ON_START=false"} {
		if exitCode(err) != 1 || !strings.Contains(err.Error(), want) {
			t.Errorf("serve = %v (exit %d), want exit 1 saying %q", err, exitCode(err), want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "key_encryption_key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve generated a development key before refusing (stat: %v)", err)
	}
}
