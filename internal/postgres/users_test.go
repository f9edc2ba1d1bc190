package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestStores(t *testing.T) {
	usertest.Run(t, func(t *testing.T) user.Stores { return storetest.Postgres(t).Stores() })
}

func TestOpenErrors(t *testing.T) {
	for _, tt := range []struct{ name, url string }{
		{"unparsable url", "postgres://%zz"},
		{"unknown setting", "postgres://postgres@127.0.0.1:5432/postgres?pool_max_conns=many"},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got nil error, want one", tt.url)
			}
		})
	}
}

func TestMigrator(t *testing.T) {
	s := storetest.Postgres(t) // already migrated
	p, err := s.Migrator()
	if err != nil {
		t.Fatalf("Migrator: %v", err)
	}
	defer p.Close()
	storetest.CheckMigrations(t, p, s, "the template's Up", func(t *testing.T) {
		var leftovers int
		const q = `
			SELECT count(*) FROM pg_class WHERE relname LIKE 'users%' OR relname LIKE 'sessions%' OR relname LIKE 'refresh_tokens%'
				OR relname LIKE 'audit_events%' OR relname LIKE 'account_tokens%' OR relname LIKE 'email_changes%'
			UNION ALL SELECT count(*) FROM pg_proc WHERE proname IN ('update_updated_at_column', 'audit_events_append_only')`
		rows, err := s.Pool().Query(t.Context(), q)
		if err != nil {
			t.Fatalf("look for leftovers: %v", err)
		}
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				t.Fatalf("look for leftovers: %v", err)
			}
			leftovers += n
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("look for leftovers: %v", err)
		}
		if leftovers != 0 {
			t.Errorf("after DownTo(0): %d tables, indexes or functions of users and sessions remain, want 0", leftovers)
		}
	})
}

func TestOtherErrorsAreWrapped(t *testing.T) {
	const checkViolation = "23514"
	s := storetest.Postgres(t).Stores().Users
	bad := usertest.NewUser(1)
	bad.Email = "not-an-email"
	_, err := s.Create(t.Context(), bad)
	if e, ok := errors.AsType[*pgconn.PgError](err); !ok || e.Code != checkViolation {
		t.Errorf("Create with an invalid email: got error %v, want a wrapped check violation", err)
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
		if e, ok := errors.AsType[*pgconn.PgError](err); !ok || e.Code != checkViolation {
			t.Errorf("Update(%+v) with an invalid email: got error %v, want a wrapped check violation", p, err)
		}
	}

	// A unique violation on another index (here the primary key) is no
	// business error.
	dup := usertest.NewUser(3)
	dup.ID = u.ID
	if _, err := s.Create(t.Context(), dup); err == nil || errors.Is(err, user.ErrEmailTaken) || errors.Is(err, user.ErrUsernameTaken) {
		t.Errorf("Create with a used id: got error %v, want a wrapped unique violation", err)
	}
}

// TestClosedStore: every method of a closed database's stores fails with
// an error that is no business error, and so does Ping.
func TestClosedStore(t *testing.T) {
	db := storetest.Postgres(t)
	db.Close()
	usertest.RunClosed(t, db.Stores())
	if err := db.Ping(t.Context()); err == nil {
		t.Error("Ping of a closed database: got nil, want an error")
	}
}

func TestPoolStats(t *testing.T) {
	s := storetest.Postgres(t)
	if got := s.Pool().Stat().MaxConns(); got < 1 {
		t.Errorf("Pool().Stat().MaxConns() = %d, want at least 1", got)
	}
}

func TestRetention(t *testing.T) {
	usertest.RunRetention(t, func(t *testing.T) (user.Stores, retention.Store) {
		db := storetest.Postgres(t)
		return db.Stores(), db.Purge()
	})
}
