package storetest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { Main(m) }

func TestAll(t *testing.T) {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
		t.Run(s.Name, func(t *testing.T) {
			db := s.Open(t)
			users := db.Stores().Users
			u, err := users.Create(t.Context(), usertest.NewUser(1))
			if err != nil {
				t.Fatalf("Create on a fresh store: got error %v, want nil", err)
			}
			if _, err := users.ByID(t.Context(), u.ID); err != nil {
				t.Errorf("ByID: got error %v, want nil", err)
			}
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping: got error %v, want nil", err)
			}
			if keys, err := SigningKeys(t, db).Keys(t.Context()); err != nil || len(keys) != 0 {
				t.Errorf("signing keys of a fresh store: got %d, error %v; want none, nil", len(keys), err)
			}
		})
	}
	if got, want := strings.Join(names, ","), "sqlite,postgres"; got != want {
		t.Errorf("All() names = %s, want %s", got, want)
	}
}

func TestStoresAreFresh(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			for i := range 2 {
				if _, err := s.Open(t).Stores().Users.Create(t.Context(), usertest.NewUser(1)); err != nil {
					t.Errorf("Create of the same user in store #%d: got error %v, want nil", i+1, err)
				}
			}
		})
	}
}

// TestPostgresURLDropsDatabase checks that the database PostgresURL made is
// gone once its test ends.
func TestPostgresURLDropsDatabase(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		u := PostgresURL(t)
		name = u[strings.LastIndexByte(u, '/')+1 : strings.IndexByte(u, '?')]
		if n := countDatabases(t, name); n != 1 {
			t.Errorf("databases named %s during the test: %d, want 1", name, n)
		}
	})
	if name == "" {
		t.Skip("no PostgreSQL database was made")
	}
	if n := countDatabases(t, name); n != 0 {
		t.Errorf("databases named %s after the test: %d, want 0", name, n)
	}
}

// TestServerLifecycle checks that a template is migrated and closed to
// connections, clones of it work, and close drops it.
func TestServerLifecycle(t *testing.T) {
	PostgresURL(t) // skips without a server
	s, err := newServer(os.Getenv(EnvPostgresURL))
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	var allow bool
	const q = `SELECT datallowconn FROM pg_database WHERE datname = $1`
	if err := s.admin.QueryRow(t.Context(), q, s.template).Scan(&allow); err != nil || allow {
		t.Errorf("template %s: datallowconn = %v, error %v; want false, nil", s.template, allow, err)
	}
	name, err := s.clone()
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	store, err := postgres.Open(t.Context(), s.url(name))
	if err != nil {
		t.Fatalf("open the clone: %v", err)
	}
	if _, err := store.Stores().Users.Create(t.Context(), usertest.NewUser(1)); err != nil {
		t.Errorf("Create in the clone: got error %v, want nil", err)
	}
	store.Close()
	if err := s.drop(name); err != nil {
		t.Errorf("drop the clone: %v", err)
	}
	template := s.template
	err = s.close()
	s = nil
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, db := range []string{name, template} {
		if n := countDatabases(t, db); n != 0 {
			t.Errorf("databases named %s after close: %d, want 0", db, n)
		}
	}
}

func TestNewServerRefusesOtherURLs(t *testing.T) {
	for _, raw := range []string{"mysql://root:secret@localhost/x", "host=localhost dbname=x", "postgres://%zz"} {
		if s, err := newServer(raw); err == nil {
			s.close()
			t.Errorf("newServer(%q): got nil error, want one", raw)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("newServer(%q): error %q shows the password", raw, err)
		}
	}
}

// countDatabases returns how many databases on the test server are named
// name.
func countDatabases(t *testing.T, name string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), os.Getenv(EnvPostgresURL))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	const q = `SELECT count(*) FROM pg_database WHERE datname = $1`
	if err := conn.QueryRow(t.Context(), q, name).Scan(&n); err != nil {
		t.Fatalf("count databases: %v", err)
	}
	return n
}

// recorder is a testing.TB that records Skip and Fatal instead of acting on
// them. Use it from its own goroutine: both end the goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func TestPostgresURLWithoutServer(t *testing.T) {
	for _, tt := range []struct {
		name        string
		env         map[string]string
		noMain      bool
		skip, fail  bool
		msgContains string
	}{
		{name: "skips on a developer machine", env: map[string]string{}, skip: true, msgContains: EnvPostgresURL + " is not set"},
		{name: "fails in CI", env: map[string]string{"CI": "true"}, fail: true, msgContains: "CI"},
		{name: "fails without Main", env: map[string]string{EnvPostgresURL: "postgres://x"}, noMain: true, fail: true, msgContains: "TestMain"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noMain {
				mainRunning.Store(false)
				defer mainRunning.Store(true)
			}
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				postgresURL(r, func(k string) string { return tt.env[k] })
			}()
			<-done
			if r.skipped != tt.skip || r.failed != tt.fail {
				t.Errorf("skipped, failed = %v, %v; want %v, %v", r.skipped, r.failed, tt.skip, tt.fail)
			}
			if !strings.Contains(r.msg, tt.msgContains) {
				t.Errorf("message %q does not mention %q", r.msg, tt.msgContains)
			}
		})
	}
}
