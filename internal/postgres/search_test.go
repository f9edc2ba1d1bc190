package postgres_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// The walk of a search tests users with a regular expression before the
// LIKE of the trigram index: the two must agree on every text, or the
// walk would skip a match (a page then differs from the index's). Texts
// and searches mix letters of both cases, non-ASCII letters, digits, the
// separator of the fields and every ASCII punctuation character, which
// the expression's syntax gives meanings to.
func TestSearchRegexpAgreesWithLike(t *testing.T) {
	db := storetest.Postgres(t)
	r := rand.New(rand.NewPCG(7, 21))
	alphabet := []rune("aAbBzZ09 éÉñÑ" + user.SearchSeparator + `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`")
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	var texts []string
	for range 400 {
		texts = append(texts, user.SearchSeparator+word(4+r.IntN(12)))
	}
	var searches []string
	for range 300 {
		t := []rune(texts[r.IntN(len(texts))])
		i := r.IntN(len(t))
		j := min(len(t), i+1+r.IntN(5))
		s := string(t[i:j])
		if r.IntN(2) == 0 {
			s = strings.ToUpper(s)
		}
		searches = append(searches, s, word(1+r.IntN(3)))
	}
	const compare = `
		SELECT count(*) FILTER (WHERE (t ~ $2) <> (translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE $3)),
		       count(*) FILTER (WHERE t ~ $2)
		FROM unnest($1::text[]) AS t`
	matched := 0
	for _, s := range searches {
		if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && string(r) != user.SearchSeparator }) {
			continue
		}
		re, like := postgres.SearchPatterns(s)
		var differ, n int
		if err := db.Pool().QueryRow(t.Context(), compare, texts, re, like).Scan(&differ, &n); err != nil {
			t.Fatalf("search %q (%q): %v", s, re, err)
		}
		if differ != 0 {
			t.Errorf("search %q: the expression %q and the LIKE %q disagree on %d texts", s, re, like, differ)
		}
		matched += n
	}
	if matched < len(searches)/2 {
		t.Errorf("only %d matches over %d searches: the test compares mostly non-matches", matched, len(searches))
	}
}

// TestSearchWalksTheListing: a search whose matches are common fills its
// page walking users in listing order (the index of created_at and id),
// never building the trigram index's bitmap of every match.
func TestSearchWalksTheListing(t *testing.T) {
	db := storetest.Postgres(t)
	if _, err := db.Pool().Exec(t.Context(), `
		INSERT INTO users (email, username, hashed_password, full_name, created_at)
		SELECT 'user' || i || '@example.com', 'user' || i, 'x', 'Name ' || i, now() + i * interval '1 ms'
		FROM generate_series(1, 20000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(t.Context(), "ANALYZE users"); err != nil {
		t.Fatal(err)
	}
	q, args := postgres.WalkQuery(user.ListQuery{Filter: user.Filter{Search: "EXAMPLE"}, Limit: 51})
	plan := planOf(t, db, q, args)
	if !strings.Contains(plan, "users_created_at_id_idx") || strings.Contains(plan, "users_search_trgm") || strings.Contains(plan, "Sort") {
		t.Errorf("the walk does not read users in listing order:\n%s", plan)
	}
	got, err := db.Stores().Users.List(t.Context(), user.ListQuery{Filter: user.Filter{Search: "EXAMPLE"}, Limit: 51})
	if err != nil || len(got) != 51 || got[0].Username != "user1" || got[50].Username != "user51" {
		t.Fatalf("List = %d users, %v; want user1 to user51", len(got), err)
	}
}
