package httpapi_test

import (
	"bytes"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// The account the search index tests erase: its email's local part,
// username and full name are of letters that no other account's email or
// username (userN@example.com) has, and none twice, so that no other term
// of the index begins as one of their trigrams does (see indexedTrigrams).
const (
	erasedLocal    = "zqvj"
	erasedEmail    = erasedLocal + "@example.com"
	erasedUsername = "kwfi"
	erasedName     = "Bdgnthy"
	erasedPassword = "correct horse battery"
)

// TestDeletedAccountLeavesNothingInTheSQLiteSearchIndex: once an account
// is deleted, the administrators' search index (FTS5) no longer holds the
// trigrams of its email, username and full name. A contentless FTS5 table
// only marks a deleted row deleted and keeps its trigrams, with their
// positions, in its segments until it merges them, which on a quiet
// database may be never: whoever copies the file reads them there.
func TestDeletedAccountLeavesNothingInTheSQLiteSearchIndex(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, apptest.SQLite, apptest.Env("USERSVC_DATA_DIR", dir))
	path := filepath.Join(dir, app.SQLiteFile)
	s.signUp() // a neighbour, so that the index's segments stay in use
	tok := s.signUpNamed(erasedEmail, erasedUsername, erasedName)
	parts := []string{erasedLocal, erasedUsername, erasedName} // what only this account has
	checkpoint(t, path)
	for _, part := range parts {
		if got, want := indexedTrigrams(t, path, part), trigrams(part); len(got) != len(want) {
			t.Fatalf("the index holds %q of %q's trigrams %q before the deletion: the test finds nothing", got, part, want)
		}
	}

	if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: tok}); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %v, want 204", res)
	}
	checkpoint(t, path)
	for _, part := range parts {
		if got := indexedTrigrams(t, path, part); len(got) > 0 {
			t.Errorf("the search index still holds the trigrams %q of the deleted account's %q", got, part)
		}
	}
}

// TestChangedEmailLeavesNothingInTheSQLiteSearchIndex: once an account's
// email is changed, the search index no longer holds the trigrams of the
// old one, and still those of the unchanged full name. A change deletes the
// row's old text from the index and inserts the new one, so a contentless
// index kept the old email's trigrams as it keeps a deleted account's.
func TestChangedEmailLeavesNothingInTheSQLiteSearchIndex(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, apptest.SQLite, apptest.Env("USERSVC_DATA_DIR", dir))
	path := filepath.Join(dir, app.SQLiteFile)
	s.signUp()
	tok := s.signUpNamed(erasedEmail, erasedUsername, erasedName)
	checkpoint(t, path)
	if got, want := indexedTrigrams(t, path, erasedLocal), trigrams(erasedLocal); len(got) != len(want) {
		t.Fatalf("the index holds %q of the email's trigrams %q before the change: the test finds nothing", got, want)
	}

	body := `{"email":"moved@example.com","current_password":"` + erasedPassword + `"}`
	if res := s.do(req{method: "PUT", path: "/api/v1/users/me", body: body, token: tok}); res.Status != http.StatusOK {
		t.Fatalf("change the email: %v, want 200", res)
	}
	checkpoint(t, path)
	if got := indexedTrigrams(t, path, erasedLocal); len(got) > 0 {
		t.Errorf("the search index still holds the trigrams %q of the old email %q", got, erasedEmail)
	}
	if got, want := indexedTrigrams(t, path, erasedName), trigrams(erasedName); len(got) != len(want) {
		t.Errorf("the index holds %q of the unchanged full name's trigrams %q, want all", got, want)
	}
}

// signUpNamed registers an account with email and username, gives it the
// full name name and returns its access token.
func (s *server) signUpNamed(email, username, name string) string {
	s.t.Helper()
	s.register(account{Email: email, Username: username, Password: erasedPassword})
	tok := s.token(username, erasedPassword)
	if res := s.do(req{method: "PUT", path: "/api/v1/users/me", body: `{"full_name":"` + name + `"}`, token: tok}); res.Status != http.StatusOK {
		s.t.Fatalf("set the full name: %v, want 200", res)
	}
	return tok
}

// trigrams returns the trigrams of s that lie within it, lowercased as the
// index's tokenizer folds them.
func trigrams(s string) []string {
	s = strings.ToLower(s)
	var out []string
	for i := 0; i+3 <= len(s); i++ {
		out = append(out, s[i:i+3])
	}
	return out
}

// indexedTrigrams returns the trigrams of s (ASCII) that the segments of
// the search index (users_search_data) in the SQLite file at path hold,
// read on a connection of its own as anyone with a copy of the file could.
// A leaf stores a term after the bytes it shares with the term before it,
// so each is looked for by its last two bytes, which no other term shares
// as long as s's letters are its own.
func indexedTrigrams(t *testing.T, path, s string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT block FROM users_search_data`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var segments []byte
	for rows.Next() {
		var block []byte
		if err := rows.Scan(&block); err != nil {
			t.Fatal(err)
		}
		segments = append(segments, block...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, tri := range trigrams(s) {
		if bytes.Contains(segments, []byte(tri[1:])) {
			found = append(found, tri)
		}
	}
	return found
}
