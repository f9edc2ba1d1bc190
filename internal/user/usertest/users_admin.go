package usertest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The tests of user.Users for administration: roles, listing and the last
// administrator.

// list runs List or stops the test.
func list(t *testing.T, users user.Users, q user.ListQuery) []user.User {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	got, err := users.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v): got error %v, want nil", q, err)
	}
	return got
}

// usernames lists the usernames of users, in order.
func usernames(users []user.User) []string {
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Username
	}
	return names
}

func testListFilters(t *testing.T, open newStores) {
	users := open(t).Users
	add := func(n int, email, username string, role user.Role, active bool) user.User {
		u := NewUser(n)
		u.Email, u.Username, u.Role = email, username, role
		u = create(t, users, u)
		if !active {
			off := false
			var err error
			if u, err = users.Update(t.Context(), u.ID, user.Patch{IsActive: &off}); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	add(1, "Ada.Lovelace@example.com", "ada_l", user.RoleAdmin, true)
	add(2, "adam@example.com", "adaxl", user.RoleUser, false)
	add(3, "a%b@example.com", `a\b`, user.RoleUser, true)
	add(4, "bob@example.com", "Bob", user.RoleAdmin, false)
	yes, no, admin, plain := true, false, user.RoleAdmin, user.RoleUser
	for _, tt := range []struct {
		name string
		f    user.Filter
		want []string
	}{
		{"everyone", user.Filter{}, []string{"ada_l", "adaxl", `a\b`, "Bob"}},
		{"email prefix ignoring case", user.Filter{EmailPrefix: "ADA"}, []string{"ada_l", "adaxl"}},
		{"email prefix with a dot", user.Filter{EmailPrefix: "ada."}, []string{"ada_l"}},
		{"underscore is literal", user.Filter{UsernamePrefix: "ada_"}, []string{"ada_l"}},
		{"percent is literal", user.Filter{EmailPrefix: "a%"}, []string{`a\b`}},
		{"percent alone matches no one", user.Filter{EmailPrefix: "%"}, nil},
		{"backslash is literal", user.Filter{UsernamePrefix: `a\`}, []string{`a\b`}},
		{"username prefix ignoring case", user.Filter{UsernamePrefix: "b"}, []string{"Bob"}},
		{"inactive", user.Filter{IsActive: &no}, []string{"adaxl", "Bob"}},
		{"active", user.Filter{IsActive: &yes}, []string{"ada_l", `a\b`}},
		{"admins", user.Filter{Role: &admin}, []string{"ada_l", "Bob"}},
		{"plain users", user.Filter{Role: &plain}, []string{"adaxl", `a\b`}},
		{"active admins", user.Filter{Role: &admin, IsActive: &yes}, []string{"ada_l"}},
		{"all filters", user.Filter{EmailPrefix: "b", UsernamePrefix: "bo", IsActive: &no, Role: &admin}, []string{"Bob"}},
	} {
		got := usernames(list(t, users, user.ListQuery{Filter: tt.f}))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: List = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := usernames(list(t, users, user.ListQuery{Limit: 2})); fmt.Sprint(got) != fmt.Sprint([]string{"ada_l", "adaxl"}) {
		t.Errorf("List(limit 2) = %q, want the first two", got)
	}
}

func testListCreatedRange(t *testing.T, open newStores) {
	users := open(t).Users
	for i := range 6 {
		create(t, users, NewUser(i))
	}
	all := list(t, users, user.ListQuery{})
	if len(all) != 6 {
		t.Fatalf("List = %d users, want 6", len(all))
	}
	mid := all[2].CreatedAt
	for _, tt := range []struct {
		name  string
		f     user.Filter
		match func(time.Time) bool
	}{
		{"after", user.Filter{CreatedAfter: mid}, func(c time.Time) bool { return c.After(mid) }},
		{"before", user.Filter{CreatedBefore: mid}, func(c time.Time) bool { return c.Before(mid) }},
		{"after, just under", user.Filter{CreatedAfter: mid.Add(-time.Nanosecond)}, func(c time.Time) bool { return !c.Before(mid) }},
		{"before, just over", user.Filter{CreatedBefore: mid.Add(time.Nanosecond)}, func(c time.Time) bool { return !c.After(mid) }},
		{"between", user.Filter{CreatedAfter: all[0].CreatedAt, CreatedBefore: all[5].CreatedAt},
			func(c time.Time) bool { return c.After(all[0].CreatedAt) && c.Before(all[5].CreatedAt) }},
	} {
		var want []string
		for _, u := range all {
			if tt.match(u.CreatedAt) {
				want = append(want, u.Username)
			}
		}
		if got := usernames(list(t, users, user.ListQuery{Filter: tt.f})); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: List = %q, want %q", tt.name, got, want)
		}
	}
}

// testListPagingIsStable walks the listing page by page while users
// are added and removed between pages: every user present for the whole
// walk appears exactly once, and the walk is in (CreatedAt, ID) order.
func testListPagingIsStable(t *testing.T, open newStores) {
	users := open(t).Users
	var initial []user.User
	for i := range 12 {
		initial = append(initial, create(t, users, NewUser(i)))
	}
	removed := map[uuid.UUID]bool{}
	remove := func(u user.User) {
		if err := users.Delete(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		removed[u.ID] = true
	}
	var walked []user.User
	var after *user.ListKey
	next := 100
	for page := 0; ; page++ {
		got := list(t, users, user.ListQuery{After: after, Limit: 4})
		walked = append(walked, got...)
		if len(got) < 4 {
			break
		}
		k := got[len(got)-1].Key()
		after = &k
		// Between pages: two new users, one removed ahead of the cursor and
		// one removed behind it.
		for range 2 {
			create(t, users, NewUser(next))
			next++
		}
		remove(got[0])
		if ahead := initial[len(initial)-1-page]; !removed[ahead.ID] {
			remove(ahead)
		}
		if page > 20 {
			t.Fatal("the walk does not end")
		}
	}
	seen := map[uuid.UUID]int{}
	for i, u := range walked {
		seen[u.ID]++
		if i > 0 && !walked[i-1].Key().Less(u.Key()) {
			t.Errorf("walk out of order at %d: %s then %s", i, walked[i-1].Username, u.Username)
		}
	}
	for _, u := range initial {
		if !removed[u.ID] && seen[u.ID] != 1 {
			t.Errorf("%s, present throughout, appears %d times, want once", u.Username, seen[u.ID])
		}
	}
}

func testLastAdmin(t *testing.T, open newStores) {
	users := open(t).Users
	ctx := t.Context()
	newAdmin := func(n int) user.User {
		u := NewUser(n)
		u.Role = user.RoleAdmin
		return create(t, users, u)
	}
	a, b, c := newAdmin(1), newAdmin(2), create(t, users, NewUser(3))
	plain, admin, off, on, name := user.RoleUser, user.RoleAdmin, false, true, "Renamed"
	if _, err := users.Update(ctx, c.ID, user.Patch{IsActive: &off}); err != nil {
		t.Errorf("deactivate a plain user: %v, want nil", err)
	}
	if got, err := users.Update(ctx, a.ID, user.Patch{Role: &plain}); err != nil || got.Role != user.RoleUser {
		t.Errorf("demote one of two admins = %q, %v; want role user, nil", got.Role, err)
	}
	for _, p := range []user.Patch{{Role: &plain}, {IsActive: &off}, {Role: &plain, FullName: &name}} {
		if _, err := users.Update(ctx, b.ID, p); !errors.Is(err, user.ErrLastAdmin) {
			t.Errorf("Update(last admin, %+v) = %v, want ErrLastAdmin", p, err)
		}
	}
	if got := byID(t, users, b.ID); !got.IsAdmin() || !got.IsActive || got.FullName == name {
		t.Errorf("the last admin after refused changes: %+v, want unchanged", got)
	}
	if err := users.Delete(ctx, b.ID); !errors.Is(err, user.ErrLastAdmin) {
		t.Errorf("Delete(last admin) = %v, want ErrLastAdmin", err)
	}
	byID(t, users, b.ID)
	if got, err := users.Update(ctx, b.ID, user.Patch{FullName: &name, Role: &admin, IsActive: &on}); err != nil || got.FullName != name {
		t.Errorf("Update(last admin, keeping the role) = %+v, %v; want the change", got, err)
	}
	// An inactive administrator does not count, and may go.
	d := newAdmin(4)
	if _, err := users.Update(ctx, d.ID, user.Patch{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, b.ID); !errors.Is(err, user.ErrLastAdmin) {
		t.Errorf("Delete(last active admin, beside an inactive one) = %v, want ErrLastAdmin", err)
	}
	if err := users.Delete(ctx, d.ID); err != nil {
		t.Errorf("Delete(inactive admin) = %v, want nil", err)
	}
	missing := uuid.Must(uuid.NewV7())
	if err := users.Delete(ctx, missing); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Delete(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := users.Update(ctx, missing, user.Patch{IsActive: &off}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Update(unknown) = %v, want ErrNotFound", err)
	}
	// With another admin again, the former last one may go.
	if _, err := users.Update(ctx, a.ID, user.Patch{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, b.ID); err != nil {
		t.Errorf("Delete(one of two admins) = %v, want nil", err)
	}
	if err := users.Delete(ctx, c.ID); err != nil {
		t.Errorf("Delete(plain user) = %v, want nil", err)
	}
}

// testConcurrentLastAdmin has several administrators remove themselves at
// once (demote, deactivate, delete): exactly one must remain.
func testConcurrentLastAdmin(t *testing.T, open newStores) {
	users := open(t).Users
	ctx := t.Context()
	const admins = 6
	plain, off := user.RoleUser, false
	var last user.User // the one left by the previous round
	for round := range 4 {
		ids := make([]uuid.UUID, admins)
		for i := range ids {
			u := NewUser(round*admins + i)
			u.Role = user.RoleAdmin
			ids[i] = create(t, users, u).ID
		}
		// Start the round with these administrators only: the previous
		// round's is no longer the last, so it may be demoted.
		if round > 0 {
			if _, err := users.Update(ctx, last.ID, user.Patch{Role: &plain}); err != nil {
				t.Fatalf("round %d: demote the previous round's administrator: %v", round, err)
			}
		}
		errs := make([]error, admins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				<-start
				switch (i + round) % 3 {
				case 0:
					_, errs[i] = users.Update(ctx, id, user.Patch{Role: &plain})
				case 1:
					_, errs[i] = users.Update(ctx, id, user.Patch{IsActive: &off})
				default:
					errs[i] = users.Delete(ctx, id)
				}
			})
		}
		close(start)
		wg.Wait()
		refused := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, user.ErrLastAdmin):
				refused++
			case err != nil:
				t.Errorf("round %d, admin %d: %v, want nil or ErrLastAdmin", round, i, err)
			}
		}
		admin, on := user.RoleAdmin, true
		left := list(t, users, user.ListQuery{Filter: user.Filter{Role: &admin, IsActive: &on}})
		if refused != 1 || len(left) != 1 {
			t.Fatalf("round %d: %d refused and %d active admins left, want 1 and 1", round, refused, len(left))
		}
		last = left[0]
	}
}

func testRoleAndVerificationOnCreate(t *testing.T, open newStores) {
	users := open(t).Users
	in := NewUser(1)
	in.Role = ""
	plain := create(t, users, in)
	if plain.Role != user.RoleUser || plain.EmailVerified {
		t.Errorf("Create with no role: role %q, email_verified %v; want %q, false", plain.Role, plain.EmailVerified, user.RoleUser)
	}
	admin := NewUser(2)
	admin.Role, admin.EmailVerified = user.RoleAdmin, true
	create(t, users, admin)
	got := byID(t, users, admin.ID)
	if got.Role != user.RoleAdmin || !got.EmailVerified {
		t.Errorf("ByID after Create(admin, verified): role %q, email_verified %v; want %q, true", got.Role, got.EmailVerified, user.RoleAdmin)
	}
	bogus := NewUser(3)
	bogus.Role = "root"
	if _, err := users.Create(t.Context(), bogus); err == nil {
		t.Error(`Create with role "root" succeeded, want an error`)
	}
}

func testUpdateAdminFields(t *testing.T, open newStores) {
	users := open(t).Users
	u := create(t, users, NewUser(1))
	off, admin := false, user.RoleAdmin
	got, err := users.Update(t.Context(), u.ID, user.Patch{IsActive: &off, Role: &admin})
	if err != nil {
		t.Fatalf("Update(is_active=false, role=admin): %v", err)
	}
	if got.IsActive || got.Role != user.RoleAdmin || got.Email != u.Email || got.FullName != u.FullName {
		t.Errorf("Update(is_active=false, role=admin) = %+v; want inactive admin with the same email and name", got)
	}
	on := true
	if got, err = users.Update(t.Context(), u.ID, user.Patch{IsActive: &on}); err != nil || !got.IsActive || got.Role != user.RoleAdmin {
		t.Errorf("Update(is_active=true) = %+v, %v; want an active admin", got, err)
	}
	bogus := user.Role("root")
	if _, err := users.Update(t.Context(), u.ID, user.Patch{Role: &bogus}); err == nil {
		t.Error(`Update(role="root") succeeded, want an error`)
	}
	if got := byID(t, users, u.ID); got.Role != user.RoleAdmin {
		t.Errorf("after a refused role: role %q, want %q", got.Role, user.RoleAdmin)
	}
}

func testEmailChangeClearsVerification(t *testing.T, open newStores) {
	users := open(t).Users
	in := NewUser(1)
	in.EmailVerified = true
	u := create(t, users, in)
	name := "New Name"
	if got, err := users.Update(t.Context(), u.ID, user.Patch{FullName: &name}); err != nil || !got.EmailVerified {
		t.Errorf("Update(full_name) = verified %v, %v; want still verified", got.EmailVerified, err)
	}
	upper := "USER1@EXAMPLE.COM"
	if got, err := users.Update(t.Context(), u.ID, user.Patch{Email: &upper}); err != nil || !got.EmailVerified || got.Email != upper {
		t.Errorf("Update(email differing in case only) = %q verified %v, %v; want %q still verified", got.Email, got.EmailVerified, err, upper)
	}
	other := "someone.else@example.com"
	if got, err := users.Update(t.Context(), u.ID, user.Patch{Email: &other}); err != nil || got.EmailVerified {
		t.Errorf("Update(new email) = verified %v, %v; want not verified", got.EmailVerified, err)
	}
	if got := byID(t, users, u.ID); got.EmailVerified {
		t.Error("ByID after an email change: still verified")
	}
}
