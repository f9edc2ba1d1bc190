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
