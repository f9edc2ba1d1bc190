package sqlite

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestSearchIndexMigrationPurgesWhatWasDeleted: migration 00035 leaves
// nothing, in the search index or in the file, of what 00014's contentless
// index kept of an account deleted before it, and the new index finds the
// users that remain, before and after they change, as does 00014's again
// after migrate down.
func TestSearchIndexMigrationPurgesWhatWasDeleted(t *testing.T) {
	ctx := t.Context()
	s, p := openAt(t, 34)
	users := s.Stores().Users
	neighbour := create(t, users, usertest.NewUser(1))
	erased := usertest.NewUser(2)
	erased.Email, erased.Username, erased.FullName = "zqvj@example.com", "kwfi", "Bdgnthy"
	if err := users.Delete(ctx, create(t, users, erased).ID); err != nil {
		t.Fatal(err)
	}
	// The trigrams of zqvj, kwfi and bdgnthy (the index folds case), of
	// letters no other user has, so that no other term shares their first
	// two bytes: a leaf stores a term after the bytes it shares with the
	// one before it, so the index is searched for the last two.
	erasedTerms := []string{"zqv", "qvj", "kwf", "wfi", "bdg", "dgn", "gnt", "nth", "thy"}
	if got := indexHolds(t, s, erasedTerms); len(got) != len(erasedTerms) {
		t.Fatalf("00014's index holds %q of the deleted user's %q: the test finds nothing", got, erasedTerms)
	}
	if got := fileHolds(t, s, erasedTerms); len(got) != len(erasedTerms) {
		t.Fatalf("the file holds %q of the deleted user's %q: the test finds nothing", got, erasedTerms)
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if got := indexHolds(t, s, erasedTerms); len(got) > 0 {
		t.Errorf("after 00035 the index still holds %q of the user deleted before it", got)
	}
	if got := fileHolds(t, s, erasedTerms); len(got) > 0 {
		t.Errorf("after 00035 the file still holds %q of the user deleted before it", got)
	}
	findsOnly(t, users, "user1@", neighbour.ID)
	if _, err := users.Update(ctx, neighbour.ID, user.Patch{FullName: new("Renamed Person")}); err != nil {
		t.Fatal(err)
	}
	findsOnly(t, users, "renamed", neighbour.ID)
	findsOnly(t, users, "user 1")
	if _, err := s.write.ExecContext(ctx, `INSERT INTO users_search (users_search) VALUES ('integrity-check')`); err != nil {
		t.Errorf("the index does not match the users: %v", err)
	}

	if _, err := p.DownTo(ctx, 34); err != nil {
		t.Fatalf("DownTo(34): %v", err)
	}
	findsOnly(t, users, "renamed", neighbour.ID)
	findsOnly(t, users, "user1@", neighbour.ID)
}

// openAt opens a store in a temporary directory migrated up to version,
// and its migrator.
func openAt(t *testing.T, version int64) (*DB, *goose.Provider) {
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
	t.Cleanup(func() { p.Close() })
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("UpTo(%d): %v", version, err)
	}
	return s, p
}

func create(t *testing.T, users user.Users, u user.User) user.User {
	t.Helper()
	u, err := users.Create(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// findsOnly checks that a search for q finds exactly the users want.
func findsOnly(t *testing.T, users user.Users, q string, want ...uuid.UUID) {
	t.Helper()
	got, err := users.List(t.Context(), user.ListQuery{Filter: user.Filter{Search: q}, Limit: 10})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	var ids []uuid.UUID
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("search %q: %v, want %v", q, ids, want)
	}
}

// indexHolds returns those of the trigrams terms whose last two bytes
// are in the search index's segments.
func indexHolds(t *testing.T, s *DB, terms []string) []string {
	t.Helper()
	var segments []byte
	rows, err := s.read.QueryContext(t.Context(), `SELECT block FROM users_search_data`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
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
	return holds(segments, terms, 1)
}

// fileHolds returns those of terms that are in s's file, once the
// write-ahead log is copied into it.
func fileHolds(t *testing.T, s *DB, terms []string) []string {
	t.Helper()
	var busy, logged, copied int
	if err := s.write.QueryRowContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d, %v", busy, err)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	return holds(b, terms, 0)
}

// holds returns those of terms whose bytes from skip on are in b.
func holds(b []byte, terms []string, skip int) []string {
	var found []string
	for _, term := range terms {
		if bytes.Contains(b, []byte(term[skip:])) {
			found = append(found, term)
		}
	}
	return found
}
