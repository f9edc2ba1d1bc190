package main

import (
	"context"
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
// advice instead of "no such table", and stays empty.
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
// refuses before anything else, saying to run `usersvc migrate up`.
func TestServeWithoutMigratingRefusesAnUnmigratedDatabase(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "usersvc.db"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wantUnmigratedRefused(t, dir, serveWithoutMigrating(t, "USERSVC_DATA_DIR="+dir))
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL, dir := storetest.PostgresURL(t), t.TempDir()
		conn, err := pgx.Connect(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(t.Context(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`) // as createdb leaves it
		_ = conn.Close(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantUnmigratedRefused(t, dir, serveWithoutMigrating(t, "USERSVC_DATA_DIR="+dir, "DATABASE_URL="+dbURL))
	})
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
