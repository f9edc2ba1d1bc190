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

// list runs ListUsers or stops the test.
func list(t *testing.T, repo user.Repository, q user.ListQuery) []user.User {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	got, err := repo.ListUsers(t.Context(), q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): got error %v, want nil", q, err)
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

func testListUsersFilters(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	add := func(n int, email, username string, role user.Role, active bool) user.User {
		u := NewUser(n)
		u.Email, u.Username, u.Role = email, username, role
		u = create(t, repo, u)
		if !active {
			off := false
			var err error
			if u, err = repo.Update(t.Context(), u.ID, user.Patch{IsActive: &off}); err != nil {
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
		got := usernames(list(t, repo, user.ListQuery{Filter: tt.f}))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: ListUsers = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := usernames(list(t, repo, user.ListQuery{Limit: 2})); fmt.Sprint(got) != fmt.Sprint([]string{"ada_l", "adaxl"}) {
		t.Errorf("ListUsers(limit 2) = %q, want the first two", got)
	}
}

func testListUsersCreatedRange(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	for i := range 6 {
		create(t, repo, NewUser(i))
	}
	all := list(t, repo, user.ListQuery{})
	if len(all) != 6 {
		t.Fatalf("ListUsers = %d users, want 6", len(all))
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
		if got := usernames(list(t, repo, user.ListQuery{Filter: tt.f})); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: ListUsers = %q, want %q", tt.name, got, want)
		}
	}
}

// testListUsersPagingIsStable walks the listing page by page while users
// are added and removed between pages: every user present for the whole
// walk appears exactly once, and the walk is in (CreatedAt, ID) order.
func testListUsersPagingIsStable(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	var initial []user.User
	for i := range 12 {
		initial = append(initial, create(t, repo, NewUser(i)))
	}
	removed := map[uuid.UUID]bool{}
	remove := func(u user.User) {
		if err := repo.Delete(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		removed[u.ID] = true
	}
	var walked []user.User
	var after *user.ListKey
	next := 100
	for page := 0; ; page++ {
		got := list(t, repo, user.ListQuery{After: after, Limit: 4})
		walked = append(walked, got...)
		if len(got) < 4 {
			break
		}
		k := got[len(got)-1].Key()
		after = &k
		// Between pages: two new users, one removed ahead of the cursor and
		// one removed behind it.
		for range 2 {
			create(t, repo, NewUser(next))
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

func testLastAdmin(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ctx := t.Context()
	newAdmin := func(n int) user.User {
		u := NewUser(n)
		u.Role = user.RoleAdmin
		return create(t, repo, u)
	}
	a, b, c := newAdmin(1), newAdmin(2), create(t, repo, NewUser(3))
	plain, admin, off, on, name := user.RoleUser, user.RoleAdmin, false, true, "Renamed"
	if _, err := repo.UpdateKeepingAdmin(ctx, c.ID, user.Patch{IsActive: &off}); err != nil {
		t.Errorf("deactivate a plain user: %v, want nil", err)
	}
	if got, err := repo.UpdateKeepingAdmin(ctx, a.ID, user.Patch{Role: &plain}); err != nil || got.Role != user.RoleUser {
		t.Errorf("demote one of two admins = %q, %v; want role user, nil", got.Role, err)
	}
	for _, p := range []user.Patch{{Role: &plain}, {IsActive: &off}, {Role: &plain, FullName: &name}} {
		if _, err := repo.UpdateKeepingAdmin(ctx, b.ID, p); !errors.Is(err, user.ErrLastAdmin) {
			t.Errorf("UpdateKeepingAdmin(last admin, %+v) = %v, want ErrLastAdmin", p, err)
		}
	}
	if got := byID(t, repo, b.ID); !got.IsAdmin() || !got.IsActive || got.FullName == name {
		t.Errorf("the last admin after refused changes: %+v, want unchanged", got)
	}
	if err := repo.DeleteKeepingAdmin(ctx, b.ID); !errors.Is(err, user.ErrLastAdmin) {
		t.Errorf("DeleteKeepingAdmin(last admin) = %v, want ErrLastAdmin", err)
	}
	byID(t, repo, b.ID)
	if got, err := repo.UpdateKeepingAdmin(ctx, b.ID, user.Patch{FullName: &name, Role: &admin, IsActive: &on}); err != nil || got.FullName != name {
		t.Errorf("UpdateKeepingAdmin(last admin, keeping the role) = %+v, %v; want the change", got, err)
	}
	// An inactive administrator does not count, and may go.
	d := newAdmin(4)
	if _, err := repo.Update(ctx, d.ID, user.Patch{IsActive: &off}); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteKeepingAdmin(ctx, b.ID); !errors.Is(err, user.ErrLastAdmin) {
		t.Errorf("DeleteKeepingAdmin(last active admin, beside an inactive one) = %v, want ErrLastAdmin", err)
	}
	if err := repo.DeleteKeepingAdmin(ctx, d.ID); err != nil {
		t.Errorf("DeleteKeepingAdmin(inactive admin) = %v, want nil", err)
	}
	missing := uuid.Must(uuid.NewV7())
	if err := repo.DeleteKeepingAdmin(ctx, missing); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DeleteKeepingAdmin(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := repo.UpdateKeepingAdmin(ctx, missing, user.Patch{IsActive: &off}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UpdateKeepingAdmin(unknown) = %v, want ErrNotFound", err)
	}
	// With another admin again, the former last one may go.
	if _, err := repo.UpdateKeepingAdmin(ctx, a.ID, user.Patch{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteKeepingAdmin(ctx, b.ID); err != nil {
		t.Errorf("DeleteKeepingAdmin(one of two admins) = %v, want nil", err)
	}
	if err := repo.DeleteKeepingAdmin(ctx, c.ID); err != nil {
		t.Errorf("DeleteKeepingAdmin(plain user) = %v, want nil", err)
	}
}

// testConcurrentLastAdmin has several administrators remove themselves at
// once (demote, deactivate, delete): exactly one must remain.
func testConcurrentLastAdmin(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ctx := t.Context()
	const admins = 6
	plain, off := user.RoleUser, false
	for round := range 4 {
		ids := make([]uuid.UUID, admins)
		for i := range ids {
			u := NewUser(round*admins + i)
			u.Role = user.RoleAdmin
			ids[i] = create(t, repo, u).ID
		}
		errs := make([]error, admins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				<-start
				switch (i + round) % 3 {
				case 0:
					_, errs[i] = repo.UpdateKeepingAdmin(ctx, id, user.Patch{Role: &plain})
				case 1:
					_, errs[i] = repo.UpdateKeepingAdmin(ctx, id, user.Patch{IsActive: &off})
				default:
					errs[i] = repo.DeleteKeepingAdmin(ctx, id)
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
		left := list(t, repo, user.ListQuery{Filter: user.Filter{Role: &admin, IsActive: &on}})
		if refused != 1 || len(left) != 1 {
			t.Fatalf("round %d: %d refused and %d active admins left, want 1 and 1", round, refused, len(left))
		}
		// Start the next round without an administrator.
		if _, err := repo.Update(ctx, left[0].ID, user.Patch{Role: &plain}); err != nil {
			t.Fatal(err)
		}
	}
}
