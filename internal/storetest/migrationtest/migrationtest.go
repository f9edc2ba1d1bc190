// Package migrationtest checks what a store's migrations do when one fails: used
// by the stores' own tests, which storetest (it opens the stores) cannot serve.
package migrationtest

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// WithMigration returns the migrations in dir of fsys plus one more file,
// name with body, for a migrator of a store's tests.
func WithMigration(t testing.TB, fsys fs.FS, dir, name, body string) fs.FS {
	t.Helper()
	out := fstest.MapFS{name: {Data: []byte(body)}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		t.Fatalf("migrationtest: read the migrations: %v", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			t.Fatalf("migrationtest: read %s: %v", e.Name(), err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// CheckFailedMigration runs p, whose last migration (version 99) adds a
// column half_way to users and a table half_way and then fails, on the
// database of stores: the failure must name the migration, leave the
// version where it was, leave none of its changes (leftovers counts the
// column and the table), and leave the database usable by the code of the
// version before.
func CheckFailedMigration(t *testing.T, p *goose.Provider, stores user.Stores, leftovers func(t *testing.T) int) {
	t.Helper()
	ctx := t.Context()
	before, err := stores.Users.Create(ctx, usertest.NewUser(1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	last, err := p.GetDBVersion(ctx)
	if err != nil {
		t.Fatalf("GetDBVersion: %v", err)
	}
	if _, err := p.Up(ctx); err == nil || !strings.Contains(err.Error(), "version:99") {
		t.Fatalf("Up with a failing migration: got error %v, want one naming version 99", err)
	}
	if got, err := p.GetDBVersion(ctx); err != nil || got != last {
		t.Errorf("version after the failure = %d, error %v; want %d (the migration before it), nil", got, err, last)
	}
	if n := leftovers(t); n != 0 {
		t.Errorf("after the failed migration %d of its column and table remain, want 0", n)
	}
	if got, err := stores.Users.ByID(ctx, before.ID); err != nil || got.Email != before.Email {
		t.Errorf("ByID after the failed migration = %q, %v; want %q, nil", got.Email, err, before.Email)
	}
	if _, err := stores.Users.Create(ctx, usertest.NewUser(2)); err != nil {
		t.Errorf("Create after the failed migration: %v", err)
	}
}
