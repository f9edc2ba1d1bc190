package usertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// The tests of Filter.Search: any part of the email, username or full name,
// ignoring the case of ASCII letters, every character literal; a search
// shorter than user.SearchMinRunes matches the start of a field.

func testListSearch(t *testing.T, open newStores) {
	users := open(t).Users
	add := func(n int, email, username, fullName string, role user.Role) {
		u := NewUser(n)
		u.Email, u.Username, u.FullName, u.Role = email, username, fullName, role
		create(t, users, u)
	}
	add(1, "Ada.Lovelace@example.com", "ada_l", "Augusta Ada King", user.RoleAdmin)
	add(2, "grace@navy.mil", "ghopper", "Grace Brewster Hopper", user.RoleUser)
	add(3, "jose@example.org", "jemile", "José Émile Núñez", user.RoleUser)
	add(4, "a%b@example.com", `a\b`, "", user.RoleUser)
	admin := user.RoleAdmin
	for _, tt := range []struct {
		name string
		f    user.Filter
		want []string
	}{
		{"middle of the email, ignoring case", user.Filter{Search: "LOVE"}, []string{"ada_l"}},
		{"middle of the full name", user.Filter{Search: "ewst"}, []string{"ghopper"}},
		{"middle of the username", user.Filter{Search: "hopp"}, []string{"ghopper"}},
		{"end of the email", user.Filter{Search: "example.com"}, []string{"ada_l", `a\b`}},
		{"found in several fields, listed once", user.Filter{Search: "ada"}, []string{"ada_l"}},
		{"non-ASCII letters match themselves", user.Filter{Search: "Émile"}, []string{"jemile"}},
		{"non-ASCII letters are not case-folded", user.Filter{Search: "émile"}, nil},
		{"ASCII letters folded after a non-ASCII one", user.Filter{Search: "ÉMILE"}, []string{"jemile"}},
		{"ASCII letters folded around non-ASCII", user.Filter{Search: "NÚÑ"}, nil},
		{"ASCII letters folded next to non-ASCII", user.Filter{Search: "Núñ"}, []string{"jemile"}},
		{"percent is literal", user.Filter{Search: "%b@"}, []string{`a\b`}},
		{"percent alone matches no one", user.Filter{Search: "%"}, nil},
		{"underscore is literal", user.Filter{Search: "a_l"}, []string{"ada_l"}},
		{"underscore in the middle", user.Filter{Search: "e_c"}, nil},
		{"backslash is literal", user.Filter{Search: `a\b`}, []string{`a\b`}},
		{"quote is literal", user.Filter{Search: `"ada"`}, nil},
		{"no match across fields", user.Filter{Search: "milgho"}, nil},
		{"no match across fields, email to username", user.Filter{Search: "comada"}, nil},
		{"short search: start of the email", user.Filter{Search: "gr"}, []string{"ghopper"}},
		{"short search: start of the full name", user.Filter{Search: "Au"}, []string{"ada_l"}},
		{"short search: start of the username", user.Filter{Search: "j"}, []string{"jemile"}},
		{"short search: not the middle of a field", user.Filter{Search: "ra"}, nil},
		{"short search: literal percent", user.Filter{Search: "a%"}, []string{`a\b`}},
		{"short search: non-ASCII", user.Filter{Search: "Jo"}, []string{"jemile"}},
		{"short search: one non-ASCII letter", user.Filter{Search: "É"}, nil},
		{"with another filter", user.Filter{Search: "example", Role: &admin}, []string{"ada_l"}},
		{"with a prefix filter", user.Filter{Search: "example", EmailPrefix: "a%"}, []string{`a\b`}},
	} {
		got := usernames(list(t, users, user.ListQuery{Filter: tt.f}))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: List(search %q) = %q, want %q", tt.name, tt.f.Search, got, tt.want)
		}
		// A page of one: a store may fill a small page another way
		// (walking users in order) than a page the matches do not fill.
		got = usernames(list(t, users, user.ListQuery{Filter: tt.f, Limit: 1}))
		if fmt.Sprint(got) != fmt.Sprint(tt.want[:min(1, len(tt.want))]) {
			t.Errorf("%s: List(search %q, limit 1) = %q, want %q", tt.name, tt.f.Search, got, tt.want[:min(1, len(tt.want))])
		}
	}
}

// testListSearchFollowsChanges: a search finds a user by what the account
// says now, after a change of email, username or name, and not after its
// deletion.
func testListSearchFollowsChanges(t *testing.T, open newStores) {
	users := open(t).Users
	u := create(t, users, NewUser(1))
	find := func(s string) []string {
		return usernames(list(t, users, user.ListQuery{Filter: user.Filter{Search: s}}))
	}
	name, email := "Katherine Johnson", "kjohnson@nasa.example"
	if _, err := users.Update(t.Context(), u.ID, user.Patch{FullName: &name, Email: &email}); err != nil {
		t.Fatal(err)
	}
	if got := find("therine"); fmt.Sprint(got) != "[user1]" {
		t.Errorf("search for the new name = %q, want [user1]", got)
	}
	if got := find("nasa"); fmt.Sprint(got) != "[user1]" {
		t.Errorf("search for the new email = %q, want [user1]", got)
	}
	if got := find("example.com"); len(got) != 0 {
		t.Errorf("search for the old email = %q, want none", got)
	}
	if err := users.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	if got := find("therine"); len(got) != 0 {
		t.Errorf("search after deletion = %q, want none", got)
	}
}

// testListSearchPaging walks a search page by page: every match exactly
// once, in order, and nothing else.
func testListSearchPaging(t *testing.T, open newStores) {
	users := open(t).Users
	var want []string
	for i := range 11 {
		u := NewUser(i)
		if i%3 != 1 {
			u.FullName = fmt.Sprintf("Member %d of the Needleman family", i)
			want = append(want, u.Username)
		}
		create(t, users, u)
	}
	var got []string
	q := user.ListQuery{Filter: user.Filter{Search: "NEEDLE"}, Limit: 2}
	for range 20 {
		page := list(t, users, q)
		if len(page) == 0 {
			break
		}
		got = append(got, usernames(page)...)
		k := page[len(page)-1].Key()
		q.After = &k
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("search walked %q, want %q", got, want)
	}
}
