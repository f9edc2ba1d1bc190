package sqlite

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// TestSearchWaysAgree: the two ways List answers a search, through the
// trigram index and walking users in listing order, list the same users
// page by page, and so does List whichever it picks.
func TestSearchWaysAgree(t *testing.T) {
	s := openMigrated(t)
	ctx := t.Context()
	users := s.Stores().Users
	for i := range 120 {
		u := user.User{ID: uuid.Must(uuid.NewV7()), Email: fmt.Sprintf("p%d.Person@Example%d.com", i, i%3),
			Username: fmt.Sprintf("p_%d", i), PasswordHash: "x", FullName: fmt.Sprintf("Person %d Éclair", i), Role: user.RoleUser}
		if _, err := users.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(q user.ListQuery, list func(user.ListQuery) []user.User) []string {
		var got []string
		for range 100 {
			page := list(q)
			if len(page) == 0 {
				return got
			}
			for _, u := range page {
				got = append(got, u.Username)
			}
			k := page[len(page)-1].Key()
			q.After = &k
		}
		t.Fatalf("the walk of %+v does not end", q)
		return nil
	}
	way := func(common bool) func(user.ListQuery) []user.User {
		return func(q user.ListQuery) []user.User {
			stmt, args := listQuery(q, common)
			rows, err := s.read.QueryContext(ctx, stmt, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var page []user.User
			for rows.Next() {
				u, err := scanUser(rows)
				if err != nil {
					t.Fatal(err)
				}
				page = append(page, u)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return page
		}
	}
	list := func(q user.ListQuery) []user.User {
		page, err := users.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	for _, search := range []string{"PERSON", "example1", "p_1", "n 1", "éclair", "Éclair", "pe", "p", "ample2.c", "%", "nobody"} {
		q := user.ListQuery{Filter: user.Filter{Search: search}, Limit: 7}
		index, walked, listed := walk(q, way(false)), walk(q, way(true)), walk(q, list)
		if !slices.Equal(index, walked) || !slices.Equal(index, listed) {
			t.Errorf("search %q: through the index %q, walked %q, List %q", search, index, walked, listed)
		}
	}
}
