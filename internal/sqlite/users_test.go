package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestStores(t *testing.T) {
	usertest.Run(t, func(t *testing.T) user.Stores { return storetest.SQLite(t).Stores() })
}

func TestOpenCreatesParentDirectory(t *testing.T) {
	// Spaces, '?' and '#' must not be taken for parts of a URI.
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag", "nested")
	path := filepath.Join(dir, "users.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", path, err)
	}
	defer s.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("Stat of the parent directory: %v", err)
	}
	if got, want := info.Mode().Perm(), os.FileMode(0o700); got != want {
		t.Errorf("parent directory mode = %v, want %v", got, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Stat of the database file: got error %v, want nil", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path string }{
		{"empty path", ""},
		{"parent is a file", filepath.Join(file, "users.db")},
		{"path is a directory", tmp},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got nil error, want one", tt.path)
			}
		})
	}
}

func TestMigrator(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	p, err := s.Migrator()
	if err != nil {
		t.Fatalf("Migrator: %v", err)
	}
	defer p.Close()
	storetest.CheckMigrationState(t, p, "nothing", goose.StatePending)
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("Up: %v", err)
	}
	storetest.CheckMigrations(t, p, s, "Up", func(t *testing.T) {
		if _, err := s.Stores().Users.ByID(t.Context(), uuid.Must(uuid.NewV7())); err == nil || errors.Is(err, user.ErrNotFound) {
			t.Errorf("ByID with no users table: got error %v, want an error other than ErrNotFound", err)
		}
	})
}

func TestOtherErrorsAreWrapped(t *testing.T) {
	s := storetest.SQLite(t).Stores().Users
	bad := usertest.NewUser(1)
	bad.Email = "not-an-email"
	_, err := s.Create(t.Context(), bad)
	if e, ok := errors.AsType[*modernc.Error](err); !ok || e.Code() != sqlite3.SQLITE_CONSTRAINT_CHECK {
		t.Errorf("Create with an invalid email: got error %v, want a wrapped CHECK violation", err)
	}
	if err == nil || !strings.Contains(err.Error(), "create user") {
		t.Errorf("Create with an invalid email: got error %v, want it to name the operation", err)
	}

	u, err := s.Create(t.Context(), usertest.NewUser(2))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, p := range []user.Patch{
		{Email: new("still-not-an-email")},
		{Email: new("still-not-an-email"), IsActive: new(false)}, // the last-admin path
	} {
		_, err = s.Update(t.Context(), u.ID, p)
		if e, ok := errors.AsType[*modernc.Error](err); !ok || e.Code() != sqlite3.SQLITE_CONSTRAINT_CHECK {
			t.Errorf("Update(%+v) with an invalid email: got error %v, want a wrapped CHECK violation", p, err)
		}
	}
}

// TestClosedStore: every method of a closed database's stores fails with
// an error that is no business error, and so does Ping.
func TestClosedStore(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	usertest.RunClosed(t, db.Stores())
	if err := db.Ping(t.Context()); err == nil {
		t.Error("Ping of a closed database: got nil, want an error")
	}
}

// TestConcurrentReadsAndWrites checks that reads and writes at once never
// fail with SQLITE_BUSY.
func TestConcurrentReadsAndWrites(t *testing.T) {
	s := storetest.SQLite(t).Stores().Users
	const workers, each = 8, 10
	errs := make(chan error, workers*each*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				u, err := s.Create(t.Context(), usertest.NewUser(w*each+i))
				if err != nil {
					errs <- err
					continue
				}
				if _, err := s.ByEmail(t.Context(), u.Email); err != nil {
					errs <- err
				}
				if err := s.SetPassword(t.Context(), u.ID, "fake-hash-next"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent use: got error %v, want nil", err)
	}
}

func TestRetention(t *testing.T) {
	usertest.RunRetention(t, func(t *testing.T) (user.Stores, retention.Store) {
		db := storetest.SQLite(t)
		return db.Stores(), db.Purge()
	})
}
