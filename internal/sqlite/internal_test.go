package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// openMigrated returns a migrated store in a temporary directory.
func openMigrated(t *testing.T) *DB {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	p, err := s.Migrator()
	if err != nil {
		t.Fatalf("Migrator: %v", err)
	}
	defer p.Close()
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("Up: %v", err)
	}
	return s
}

// TestConnectionSettings checks that the DSN settings reach every connection
// of both pools.
func TestConnectionSettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, tt := range []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"write", s.write, "journal_mode", "wal"},
		{"write", s.write, "busy_timeout", "5000"},
		{"write", s.write, "foreign_keys", "1"},
		{"write", s.write, "synchronous", "1"}, // NORMAL
		{"write", s.write, "query_only", "0"},
		{"write", s.write, "secure_delete", "1"},
		{"read", s.read, "journal_mode", "wal"},
		{"read", s.read, "busy_timeout", "5000"},
		{"read", s.read, "foreign_keys", "1"},
		{"read", s.read, "synchronous", "1"},
		{"read", s.read, "query_only", "1"},
	} {
		var got string
		if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Errorf("%s pool: PRAGMA %s: %v", tt.pool, tt.pragma, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s pool: PRAGMA %s = %q, want %q", tt.pool, tt.pragma, got, tt.want)
		}
	}
	writer, reader := s.Stats()
	if got := writer.MaxOpenConnections; got != 1 {
		t.Errorf("write pool: MaxOpenConnections = %d, want 1", got)
	}
	if got := reader.MaxOpenConnections; got < 4 {
		t.Errorf("read pool: MaxOpenConnections = %d, want at least 4", got)
	}
}

// TestNextUpdatedAt checks the updated_at expression moves on by at least a
// millisecond, across second boundaries too, even when the stored value is
// ahead of the clock.
func TestNextUpdatedAt(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, tt := range []struct{ prev, want string }{
		{"2999-01-01T00:00:00.000Z", "2999-01-01T00:00:00.001Z"},
		{"2999-12-31T23:59:59.999Z", "3000-01-01T00:00:00.000Z"},
		{"2999-06-30T12:34:56.789Z", "2999-06-30T12:34:56.790Z"},
	} {
		var got string
		q := `SELECT ` + nextUpdatedAt + ` FROM (SELECT ? AS updated_at)`
		if err := s.read.QueryRowContext(t.Context(), q, tt.prev).Scan(&got); err != nil {
			t.Fatalf("next updated_at after %s: %v", tt.prev, err)
		}
		if got != tt.want {
			t.Errorf("next updated_at after %s = %s, want %s", tt.prev, got, tt.want)
		}
	}
}

// TestUnreadableTimestamps checks that a timestamp that does not parse is an
// error, not a zero time.
func TestUnreadableTimestamps(t *testing.T) {
	for _, column := range []string{"created_at", "updated_at"} {
		t.Run(column, func(t *testing.T) {
			s := openMigrated(t)
			id := uuid.Must(uuid.NewV7())
			u := user.User{ID: id, Email: "a@example.com", Username: "ada", PasswordHash: "h"}
			users := s.Stores().Users
			if _, err := users.Create(t.Context(), u); err != nil {
				t.Fatalf("Create: %v", err)
			}
			q := `UPDATE users SET ` + column + ` = 'yesterday' WHERE id = ?`
			if _, err := s.write.ExecContext(t.Context(), q, id); err != nil {
				t.Fatalf("corrupt %s: %v", column, err)
			}
			_, err := users.ByID(t.Context(), id)
			if err == nil || !strings.Contains(err.Error(), column) {
				t.Errorf("ByID with %s 'yesterday': got error %v, want one naming %s", column, err, column)
			}
		})
	}
}
