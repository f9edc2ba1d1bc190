// Package usertest is the conformance suite every user.Repository must pass,
// so that all stores behave alike, plus a factory of valid users and Memory,
// an in-memory store that passes the suite, for tests.
package usertest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// NewUser returns a valid user, not yet stored, numbered n: a fresh UUIDv7,
// email user<n>@example.com, username user<n>, a fake password hash and the
// full name "User <n>", role user.
func NewUser(n int) user.User {
	return user.User{
		ID:           uuid.Must(uuid.NewV7()),
		Email:        fmt.Sprintf("user%d@example.com", n),
		Username:     fmt.Sprintf("user%d", n),
		PasswordHash: fmt.Sprintf("fake-hash-%d", n),
		FullName:     fmt.Sprintf("User %d", n),
		Role:         user.RoleUser,
	}
}

// Run checks that the repositories newRepo returns follow every rule of
// user.Repository. newRepo must return a fresh, empty, migrated store each
// time it is called, and release it in t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, newRepo func(t *testing.T) user.Repository) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, func(*testing.T) user.Repository)
	}{
		{"Create", testCreate},
		{"RoundTrip", testRoundTrip},
		{"LookupIgnoresCase", testLookupIgnoresCase},
		{"NotFound", testNotFound},
		{"Duplicates", testDuplicates},
		{"Update", testUpdate},
		{"UpdateEmailTaken", testUpdateEmailTaken},
		{"SetPassword", testSetPassword},
		{"RehashPassword", testRehashPassword},
		{"Delete", testDelete},
		{"Ping", testPing},
		{"ConcurrentSameEmail", testConcurrentSameEmail},
		{"ConcurrentSameUsername", testConcurrentSameUsername},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionNotFound", testSessionNotFound},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"ConcurrentRotation", testConcurrentRotation},
		{"ActiveSessions", testActiveSessions},
		{"RevokeSessions", testRevokeSessions},
		{"DeleteRemovesSessions", testDeleteRemovesSessions},
		{"Deactivate", testDeactivate},
		{"RoleAndVerificationOnCreate", testRoleAndVerificationOnCreate},
		{"UpdateAdminFields", testUpdateAdminFields},
		{"EmailChangeClearsVerification", testEmailChangeClearsVerification},
		{"UserSession", testUserSession},
		{"UserSessionSeesChanges", testUserSessionSeesChanges},
		{"ConcurrentUserSession", testConcurrentUserSession},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditFilters", testAuditFilters},
		{"AuditKeysetStability", testAuditKeysetStability},
		{"AuditOutlivesUser", testAuditOutlivesUser},
		{"AllSessions", testAllSessions},
		{"ListUsersFilters", testListUsersFilters},
		{"ListUsersCreatedRange", testListUsersCreatedRange},
		{"ListUsersPagingIsStable", testListUsersPagingIsStable},
		{"LastAdmin", testLastAdmin},
		{"ConcurrentLastAdmin", testConcurrentLastAdmin},
		// account_tokens.go
		{"AccountTokenRoundTrip", testAccountTokenRoundTrip},
		{"UseVerifyEmailToken", testUseVerifyEmailToken},
		{"VerifyTokenAfterEmailChange", testVerifyTokenAfterEmailChange},
		{"UseResetPasswordToken", testUseResetPasswordToken},
		{"ConcurrentTokenUse", testConcurrentTokenUse},
		{"DeleteRemovesAccountTokens", testDeleteRemovesAccountTokens},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newRepo)
		})
	}
}

// ignoreDBFields leaves out what the database fills in.
var ignoreDBFields = cmpopts.IgnoreFields(user.User{}, "CreatedAt", "UpdatedAt")

// create stores u or stops the test.
func create(t *testing.T, repo user.Repository, u user.User) user.User {
	t.Helper()
	got, err := repo.Create(t.Context(), u)
	if err != nil {
		t.Fatalf("Create(%q, %q): got error %v, want nil", u.Email, u.Username, err)
	}
	return got
}

// byID reads the user id or stops the test.
func byID(t *testing.T, repo user.Repository, id uuid.UUID) user.User {
	t.Helper()
	got, err := repo.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID(%s): got error %v, want nil", id, err)
	}
	return got
}

func testCreate(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	in := NewUser(1)
	// Fields the database owns must be ignored on input.
	in.IsActive = false
	in.TokenVersion = 7
	in.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	in.UpdatedAt = in.CreatedAt
	before := time.Now()

	got := create(t, repo, in)

	want := in
	want.IsActive, want.TokenVersion = true, 0
	if diff := cmp.Diff(want, got, ignoreDBFields); diff != "" {
		t.Errorf("Create: returned user mismatch (-want +got):\n%s", diff)
	}
	// The database clock may differ a little from this process's.
	const skew = time.Minute
	if got.CreatedAt.Before(before.Add(-skew)) || got.CreatedAt.After(time.Now().Add(skew)) {
		t.Errorf("Create: CreatedAt = %v, want about now (%v)", got.CreatedAt, before)
	}
	if d := got.UpdatedAt.Sub(got.CreatedAt); d < 0 || d > time.Second {
		t.Errorf("Create: UpdatedAt - CreatedAt = %v, want 0 to 1s (created %v, updated %v)", d, got.CreatedAt, got.UpdatedAt)
	}
	for name, ts := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt} {
		if ts.Location() != time.UTC {
			t.Errorf("Create: %s location = %v, want UTC", name, ts.Location())
		}
	}
}

func testRoundTrip(t *testing.T, newRepo func(*testing.T) user.Repository) {
	longEmail := strings.Repeat("a", user.MaxEmail-len("@example.com")) + "@example.com"
	for _, tt := range []struct {
		name string
		edit func(*user.User)
	}{
		{"all fields", func(*user.User) {}},
		{"empty full name", func(u *user.User) { u.FullName = "" }},
		{"case kept as given", func(u *user.User) { u.Email, u.Username = "Ada.Lovelace@Example.COM", "Ada_L" }},
		{"non-ASCII full name", func(u *user.User) { u.FullName = "Zoë Ångström 山田太郎" }},
		{"longest full name", func(u *user.User) { u.FullName = strings.Repeat("é", user.MaxFullName) }},
		{"longest email", func(u *user.User) { u.Email = longEmail }},
		{"longest username", func(u *user.User) { u.Username = strings.Repeat("u", user.MaxUsername) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			in := NewUser(1)
			tt.edit(&in)
			created := create(t, repo, in)
			want := in
			want.IsActive = true
			if diff := cmp.Diff(want, created, ignoreDBFields); diff != "" {
				t.Errorf("Create: mismatch (-want +got):\n%s", diff)
			}
			for _, read := range []struct {
				call string
				get  func() (user.User, error)
			}{
				{"ByID", func() (user.User, error) { return repo.ByID(t.Context(), in.ID) }},
				{"ByEmail", func() (user.User, error) { return repo.ByEmail(t.Context(), in.Email) }},
				{"ByUsername", func() (user.User, error) { return repo.ByUsername(t.Context(), in.Username) }},
			} {
				got, err := read.get()
				if err != nil {
					t.Errorf("%s: got error %v, want nil", read.call, err)
					continue
				}
				if diff := cmp.Diff(created, got); diff != "" {
					t.Errorf("%s: got a user other than Create returned (-want +got):\n%s", read.call, diff)
				}
			}
		})
	}
}

func testLookupIgnoresCase(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	in := NewUser(1)
	in.Email, in.Username = "Ada.Lovelace@Example.com", "Ada_Lovelace"
	want := create(t, repo, in)
	create(t, repo, NewUser(2)) // a neighbour that must not be found instead
	for _, tt := range []struct {
		call, arg string
		get       func(string) (user.User, error)
	}{
		{"ByEmail", "ada.lovelace@example.com", func(s string) (user.User, error) { return repo.ByEmail(t.Context(), s) }},
		{"ByEmail", "ADA.LOVELACE@EXAMPLE.COM", func(s string) (user.User, error) { return repo.ByEmail(t.Context(), s) }},
		{"ByEmail", "Ada.Lovelace@Example.com", func(s string) (user.User, error) { return repo.ByEmail(t.Context(), s) }},
		{"ByUsername", "ada_lovelace", func(s string) (user.User, error) { return repo.ByUsername(t.Context(), s) }},
		{"ByUsername", "ADA_LOVELACE", func(s string) (user.User, error) { return repo.ByUsername(t.Context(), s) }},
		{"ByUsername", "aDa_lOvElAcE", func(s string) (user.User, error) { return repo.ByUsername(t.Context(), s) }},
	} {
		got, err := tt.get(tt.arg)
		if err != nil {
			t.Errorf("%s(%q): got error %v, want nil", tt.call, tt.arg, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s(%q): mismatch (-want +got):\n%s", tt.call, tt.arg, diff)
		}
	}
}

func testNotFound(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	create(t, repo, NewUser(1)) // the store is not empty
	unknown := uuid.Must(uuid.NewV7())
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"ByID", func() error { _, err := repo.ByID(t.Context(), unknown); return err }},
		{"ByEmail", func() error { _, err := repo.ByEmail(t.Context(), "nobody@example.com"); return err }},
		{"ByUsername", func() error { _, err := repo.ByUsername(t.Context(), "nobody"); return err }},
		{"Update", func() error {
			_, err := repo.Update(t.Context(), unknown, user.Patch{FullName: new("Nobody")})
			return err
		}},
		{"SetPassword", func() error { return repo.SetPassword(t.Context(), unknown, "fake-hash") }},
		{"Delete", func() error { return repo.Delete(t.Context(), unknown) }},
	} {
		if err := tt.do(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s of an unknown user: got error %v, want %v", tt.call, err, user.ErrNotFound)
		}
	}
}

func testDuplicates(t *testing.T, newRepo func(*testing.T) user.Repository) {
	for _, tt := range []struct {
		name            string
		email, username string
		want            error
	}{
		{"same email", "ada@example.com", "someone", user.ErrEmailTaken},
		{"email in other case", "ADA@example.COM", "someone", user.ErrEmailTaken},
		{"same username", "someone@example.com", "Ada", user.ErrUsernameTaken},
		{"username in other case", "someone@example.com", "aDA", user.ErrUsernameTaken},
		{"email and username of one user", "ada@example.com", "ada", user.ErrEmailTaken},
		{"email of one user, username of another", "Ada@Example.com", "BOB", user.ErrEmailTaken},
		{"username of one user, email of another", "bob@example.com", "ADA", user.ErrEmailTaken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			ada, bob := NewUser(1), NewUser(2)
			ada.Email, ada.Username = "Ada@example.com", "Ada"
			bob.Email, bob.Username = "Bob@example.com", "Bob"
			create(t, repo, ada)
			create(t, repo, bob)

			dup := NewUser(3)
			dup.Email, dup.Username = tt.email, tt.username
			_, err := repo.Create(t.Context(), dup)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create(%q, %q): got error %v, want %v", tt.email, tt.username, err, tt.want)
			}
			if _, err := repo.ByID(t.Context(), dup.ID); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("ByID of the refused user: got error %v, want %v", err, user.ErrNotFound)
			}
		})
	}
}

func testUpdate(t *testing.T, newRepo func(*testing.T) user.Repository) {
	for _, tt := range []struct {
		name  string
		patch user.Patch
		edit  func(*user.User) // from the stored user to the wanted one
	}{
		{"only full name", user.Patch{FullName: new("Ada King")}, func(u *user.User) { u.FullName = "Ada King" }},
		{"clear full name", user.Patch{FullName: new("")}, func(u *user.User) { u.FullName = "" }},
		{"only email", user.Patch{Email: new("ada@example.org")}, func(u *user.User) { u.Email = "ada@example.org" }},
		{"own email in other case", user.Patch{Email: new("USER1@EXAMPLE.COM")}, func(u *user.User) { u.Email = "USER1@EXAMPLE.COM" }},
		{"both", user.Patch{FullName: new("Ada King"), Email: new("ada@example.org")}, func(u *user.User) {
			u.FullName, u.Email = "Ada King", "ada@example.org"
		}},
		{"nothing", user.Patch{}, func(*user.User) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			before := create(t, repo, NewUser(1))
			other := create(t, repo, NewUser(2))

			got, err := repo.Update(t.Context(), before.ID, tt.patch)
			if err != nil {
				t.Fatalf("Update: got error %v, want nil", err)
			}
			want := before
			tt.edit(&want)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(user.User{}, "UpdatedAt")); diff != "" {
				t.Errorf("Update: mismatch (-want +got):\n%s", diff)
			}
			// An empty patch changes nothing, so its UpdatedAt need not move.
			if tt.patch != (user.Patch{}) && !got.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("Update: UpdatedAt = %v, want after %v", got.UpdatedAt, before.UpdatedAt)
			}
			if got.UpdatedAt.Before(before.UpdatedAt) {
				t.Errorf("Update: UpdatedAt = %v, want not before %v", got.UpdatedAt, before.UpdatedAt)
			}
			if diff := cmp.Diff(got, byID(t, repo, before.ID)); diff != "" {
				t.Errorf("ByID after Update: differs from what Update returned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(other, byID(t, repo, other.ID)); diff != "" {
				t.Errorf("ByID of another user after Update: changed (-want +got):\n%s", diff)
			}
		})
	}
}

func testUpdateEmailTaken(t *testing.T, newRepo func(*testing.T) user.Repository) {
	for _, email := range []string{"user2@example.com", "User2@Example.COM"} {
		t.Run(email, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			ada := create(t, repo, NewUser(1))
			create(t, repo, NewUser(2))

			_, err := repo.Update(t.Context(), ada.ID, user.Patch{Email: &email, FullName: new("Changed")})
			if !errors.Is(err, user.ErrEmailTaken) {
				t.Fatalf("Update(email %q of another user): got error %v, want %v", email, err, user.ErrEmailTaken)
			}
			if diff := cmp.Diff(ada, byID(t, repo, ada.ID)); diff != "" {
				t.Errorf("ByID after a refused Update: changed (-want +got):\n%s", diff)
			}
		})
	}
}

func testSetPassword(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	before := create(t, repo, NewUser(1))
	other := create(t, repo, NewUser(2))
	prev := before
	for i, hash := range []string{"fake-hash-new", "fake-hash-newer"} {
		if err := repo.SetPassword(t.Context(), before.ID, hash); err != nil {
			t.Fatalf("SetPassword #%d: got error %v, want nil", i+1, err)
		}
		got := byID(t, repo, before.ID)
		want := before
		want.PasswordHash, want.TokenVersion = hash, int64(i+1)
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(user.User{}, "UpdatedAt")); diff != "" {
			t.Errorf("ByID after SetPassword #%d: mismatch (-want +got):\n%s", i+1, diff)
		}
		if !got.UpdatedAt.After(prev.UpdatedAt) {
			t.Errorf("SetPassword #%d: UpdatedAt = %v, want after %v", i+1, got.UpdatedAt, prev.UpdatedAt)
		}
		prev = got
	}
	if diff := cmp.Diff(other, byID(t, repo, other.ID)); diff != "" {
		t.Errorf("ByID of another user after SetPassword: changed (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	gone := create(t, repo, NewUser(1))
	kept := create(t, repo, NewUser(2))

	if err := repo.Delete(t.Context(), gone.ID); err != nil {
		t.Fatalf("Delete: got error %v, want nil", err)
	}
	if _, err := repo.ByID(t.Context(), gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByID after Delete: got error %v, want %v", err, user.ErrNotFound)
	}
	if _, err := repo.ByEmail(t.Context(), gone.Email); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByEmail after Delete: got error %v, want %v", err, user.ErrNotFound)
	}
	if err := repo.Delete(t.Context(), gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Delete again: got error %v, want %v", err, user.ErrNotFound)
	}
	if diff := cmp.Diff(kept, byID(t, repo, kept.ID)); diff != "" {
		t.Errorf("ByID of another user after Delete: changed (-want +got):\n%s", diff)
	}
	// The email and username are free again.
	again := NewUser(1)
	if _, err := repo.Create(t.Context(), again); err != nil {
		t.Errorf("Create with a deleted user's email and username: got error %v, want nil", err)
	}
}

func testPing(t *testing.T, newRepo func(*testing.T) user.Repository) {
	if err := newRepo(t).Ping(t.Context()); err != nil {
		t.Errorf("Ping: got error %v, want nil", err)
	}
}

// racers is how many goroutines the concurrency tests start at once.
const racers = 20

// createAll calls Create for every user at once and returns the errors, in
// the order of users.
func createAll(t *testing.T, repo user.Repository, users []user.User) []error {
	errs := make([]error, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			<-start
			_, errs[i] = repo.Create(t.Context(), u)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner checks that exactly one Create succeeded and every other
// failed with want.
func checkOneWinner(t *testing.T, errs []error, want error) (winner int) {
	t.Helper()
	winner = -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Create #%d and #%d both succeeded, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Errorf("Create #%d: got error %v, want nil or %v", i, err, want)
		}
	}
	if winner < 0 {
		t.Fatalf("no Create succeeded, want exactly one")
	}
	return winner
}

func testConcurrentSameEmail(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	users := make([]user.User, racers)
	for i := range users {
		users[i] = NewUser(i)
		users[i].Email = "Race@Example.com"
		if i%2 == 1 {
			users[i].Email = strings.ToLower(users[i].Email)
		}
	}
	winner := checkOneWinner(t, createAll(t, repo, users), user.ErrEmailTaken)
	got, err := repo.ByEmail(t.Context(), "race@example.com")
	if err != nil {
		t.Fatalf("ByEmail after the race: got error %v, want nil", err)
	}
	if got.ID != users[winner].ID {
		t.Errorf("ByEmail after the race: got user %s, want the winner %s", got.ID, users[winner].ID)
	}
}

func testConcurrentSameUsername(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	users := make([]user.User, racers)
	for i := range users {
		users[i] = NewUser(i)
		users[i].Username = "Racer"
		if i%2 == 1 {
			users[i].Username = "racer"
		}
	}
	winner := checkOneWinner(t, createAll(t, repo, users), user.ErrUsernameTaken)
	got, err := repo.ByUsername(t.Context(), "RACER")
	if err != nil {
		t.Fatalf("ByUsername after the race: got error %v, want nil", err)
	}
	if got.ID != users[winner].ID {
		t.Errorf("ByUsername after the race: got user %s, want the winner %s", got.ID, users[winner].ID)
	}
}

func testConcurrentDistinct(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	users := make([]user.User, racers)
	for i := range users {
		users[i] = NewUser(i)
	}
	for i, err := range createAll(t, repo, users) {
		if err != nil {
			t.Errorf("Create #%d: got error %v, want nil", i, err)
		}
	}
	for _, u := range users {
		if got, err := repo.ByEmail(t.Context(), u.Email); err != nil || got.ID != u.ID {
			t.Errorf("ByEmail(%q): got user %s, error %v; want user %s, nil", u.Email, got.ID, err, u.ID)
		}
	}
}
