package httpapi_test

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the driver, to checkpoint the service's file

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
)

// TestDeletedAccountLeavesNothingInTheSQLiteFile: once an account is
// deleted, its row's bytes (here its password hash, which nothing but the
// row holds) are gone from the SQLite file itself, not only from the
// table: SQLite leaves a deleted row's bytes in its page's free space
// until something overwrites them, where anyone who copies the file
// (a backup, a disk image) reads them, for ever on a quiet database.
// PostgreSQL has no such setting: its dead rows go at vacuum
// (docs/security.md, "Erasure").
func TestDeletedAccountLeavesNothingInTheSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, apptest.SQLite, apptest.Env("USERSVC_DATA_DIR", dir))
	path := filepath.Join(dir, app.SQLiteFile)
	s.signUp() // a neighbour, so that the users' page stays in use
	bob, id := s.signUp()
	u, err := s.Stores.Users.ByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte(u.PasswordHash)
	checkpoint(t, path)
	if !bytes.Contains(readFile(t, path), hash) {
		t.Fatal("the account's password hash is not in the file before its deletion: the test finds nothing")
	}

	if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: s.token(bob.Username, bob.Password)}); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %v, want 204", res)
	}
	checkpoint(t, path)
	if bytes.Contains(readFile(t, path), hash) {
		t.Error("the deleted account's password hash is still in the SQLite file")
	}
}

// checkpoint copies the write-ahead log into the database file at path and
// empties the log, so that the file holds every page as it now stands.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var busy, logged, copied int
	if err := db.QueryRowContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, %v", busy, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditOfADeletedAccountNamesNoOne: the audit events kept about a
// deleted account (USERSVC_AUDIT_RETENTION) hold its id, client address
// and user agent, and never what names the person: not its email (the old
// or the new one), username or full name, though its life had them
// changed, a failed login and a deletion by an administrator.
func TestAuditOfADeletedAccountNamesNoOne(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin := s.adminToken()
		bob, id := s.signUp()
		tok := s.token(bob.Username, bob.Password)
		moved, name := "moved."+bob.Email, "Zebulon Quixote"
		body := `{"email":"` + moved + `","full_name":"` + name + `","current_password":"` + bob.Password + `"}`
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me", body: body, token: tok}); res.Status != http.StatusOK {
			t.Fatalf("update: %v, want 200", res)
		}
		if res := s.loginAs(bob.Username, "not the password"); res.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %v, want 401", res)
		}
		if res := s.do(req{method: "DELETE", path: "/api/v1/admin/users/" + id.String(), token: admin}); res.Status != http.StatusNoContent {
			t.Fatalf("admin delete: %v, want 204", res)
		}
		res := s.do(req{method: "GET", path: "/api/v1/admin/audit?limit=100&subject_id=" + id.String(), token: admin})
		if res.Status != http.StatusOK || !bytes.Contains(res.Body, []byte(`"user.deleted"`)) {
			t.Fatalf("the deleted account's events: %v, want 200 with user.deleted", res)
		}
		for _, personal := range []string{bob.Email, moved, bob.Username, name} {
			if bytes.Contains(bytes.ToLower(res.Body), bytes.ToLower([]byte(personal))) {
				t.Errorf("the deleted account's audit events hold %q: %s", personal, res.Body)
			}
		}
	})
}
