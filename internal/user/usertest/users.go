package usertest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The tests of user.Users but for listing and administrators
// (users_admin.go).

func testCreate(t *testing.T, open newStores) {
	users := open(t).Users
	in := NewUser(1)
	// Fields the database owns must be ignored on input.
	in.IsActive = false
	in.TokenVersion = 7
	in.TrustedEmail = "someone.else@example.com"
	in.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	in.UpdatedAt = in.CreatedAt
	before := time.Now()

	got := create(t, users, in)

	want := in
	want.IsActive, want.TokenVersion = true, 0
	want.TrustedEmail = in.Email // the address it registers with
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

func testRoundTrip(t *testing.T, open newStores) {
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
			users := open(t).Users
			in := NewUser(1)
			tt.edit(&in)
			created := create(t, users, in)
			want := in
			want.IsActive, want.TrustedEmail = true, in.Email
			if diff := cmp.Diff(want, created, ignoreDBFields); diff != "" {
				t.Errorf("Create: mismatch (-want +got):\n%s", diff)
			}
			for _, read := range []struct {
				call string
				get  func() (user.User, error)
			}{
				{"ByID", func() (user.User, error) { return users.ByID(t.Context(), in.ID) }},
				{"ByEmail", func() (user.User, error) { return users.ByEmail(t.Context(), in.Email) }},
				{"ByUsername", func() (user.User, error) { return users.ByUsername(t.Context(), in.Username) }},
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

func testLookupIgnoresCase(t *testing.T, open newStores) {
	users := open(t).Users
	in := NewUser(1)
	in.Email, in.Username = "Ada.Lovelace@Example.com", "Ada_Lovelace"
	want := create(t, users, in)
	create(t, users, NewUser(2)) // a neighbour that must not be found instead
	for _, tt := range []struct {
		call, arg string
		get       func(string) (user.User, error)
	}{
		{"ByEmail", "ada.lovelace@example.com", func(s string) (user.User, error) { return users.ByEmail(t.Context(), s) }},
		{"ByEmail", "ADA.LOVELACE@EXAMPLE.COM", func(s string) (user.User, error) { return users.ByEmail(t.Context(), s) }},
		{"ByEmail", "Ada.Lovelace@Example.com", func(s string) (user.User, error) { return users.ByEmail(t.Context(), s) }},
		{"ByUsername", "ada_lovelace", func(s string) (user.User, error) { return users.ByUsername(t.Context(), s) }},
		{"ByUsername", "ADA_LOVELACE", func(s string) (user.User, error) { return users.ByUsername(t.Context(), s) }},
		{"ByUsername", "aDa_lOvElAcE", func(s string) (user.User, error) { return users.ByUsername(t.Context(), s) }},
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

func testNotFound(t *testing.T, open newStores) {
	users := open(t).Users
	create(t, users, NewUser(1)) // the store is not empty
	unknown := uuid.Must(uuid.NewV7())
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"ByID", func() error { _, err := users.ByID(t.Context(), unknown); return err }},
		{"ByEmail", func() error { _, err := users.ByEmail(t.Context(), "nobody@example.com"); return err }},
		{"ByUsername", func() error { _, err := users.ByUsername(t.Context(), "nobody"); return err }},
		{"Update", func() error {
			_, err := users.Update(t.Context(), unknown, user.Patch{FullName: new("Nobody")})
			return err
		}},
		{"SetPassword", func() error { return users.SetPassword(t.Context(), unknown, "fake-hash") }},
		{"Delete", func() error { return users.Delete(t.Context(), unknown) }},
	} {
		if err := tt.do(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s of an unknown user: got error %v, want %v", tt.call, err, user.ErrNotFound)
		}
	}
}

func testDuplicates(t *testing.T, open newStores) {
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
			users := open(t).Users
			ada, bob := NewUser(1), NewUser(2)
			ada.Email, ada.Username = "Ada@example.com", "Ada"
			bob.Email, bob.Username = "Bob@example.com", "Bob"
			create(t, users, ada)
			create(t, users, bob)

			dup := NewUser(3)
			dup.Email, dup.Username = tt.email, tt.username
			_, err := users.Create(t.Context(), dup)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create(%q, %q): got error %v, want %v", tt.email, tt.username, err, tt.want)
			}
			if _, err := users.ByID(t.Context(), dup.ID); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("ByID of the refused user: got error %v, want %v", err, user.ErrNotFound)
			}
		})
	}
}

func testUpdate(t *testing.T, open newStores) {
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
			users := open(t).Users
			before := create(t, users, NewUser(1))
			other := create(t, users, NewUser(2))

			got, err := users.Update(t.Context(), before.ID, tt.patch)
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
			if diff := cmp.Diff(got, byID(t, users, before.ID)); diff != "" {
				t.Errorf("ByID after Update: differs from what Update returned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(other, byID(t, users, other.ID)); diff != "" {
				t.Errorf("ByID of another user after Update: changed (-want +got):\n%s", diff)
			}
		})
	}
}

// testUpdateEmailTaken: an Update to another user's email changes
// nothing, on the plain path and on the path that guards the last
// administrator (a deactivation) alike.
func testUpdateEmailTaken(t *testing.T, open newStores) {
	for _, tt := range []struct {
		name  string
		email string
		off   *bool
	}{
		{"same case", "user2@example.com", nil},
		{"other case", "User2@Example.COM", nil},
		{"with a deactivation", "user2@example.com", new(false)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			users := open(t).Users
			ada := create(t, users, NewUser(1))
			create(t, users, NewUser(2))

			p := user.Patch{Email: &tt.email, FullName: new("Changed"), IsActive: tt.off}
			if _, err := users.Update(t.Context(), ada.ID, p); !errors.Is(err, user.ErrEmailTaken) {
				t.Fatalf("Update(email %q of another user): got error %v, want %v", tt.email, err, user.ErrEmailTaken)
			}
			if diff := cmp.Diff(ada, byID(t, users, ada.ID)); diff != "" {
				t.Errorf("ByID after a refused Update: changed (-want +got):\n%s", diff)
			}
		})
	}
}

func testSetPassword(t *testing.T, open newStores) {
	users := open(t).Users
	before := create(t, users, NewUser(1))
	other := create(t, users, NewUser(2))
	prev := before
	for i, hash := range []string{"fake-hash-new", "fake-hash-newer"} {
		if err := users.SetPassword(t.Context(), before.ID, hash); err != nil {
			t.Fatalf("SetPassword #%d: got error %v, want nil", i+1, err)
		}
		got := byID(t, users, before.ID)
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
	if diff := cmp.Diff(other, byID(t, users, other.ID)); diff != "" {
		t.Errorf("ByID of another user after SetPassword: changed (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, open newStores) {
	users := open(t).Users
	gone := create(t, users, NewUser(1))
	kept := create(t, users, NewUser(2))

	if err := users.Delete(t.Context(), gone.ID); err != nil {
		t.Fatalf("Delete: got error %v, want nil", err)
	}
	if _, err := users.ByID(t.Context(), gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByID after Delete: got error %v, want %v", err, user.ErrNotFound)
	}
	if _, err := users.ByEmail(t.Context(), gone.Email); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("ByEmail after Delete: got error %v, want %v", err, user.ErrNotFound)
	}
	if err := users.Delete(t.Context(), gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Delete again: got error %v, want %v", err, user.ErrNotFound)
	}
	if diff := cmp.Diff(kept, byID(t, users, kept.ID)); diff != "" {
		t.Errorf("ByID of another user after Delete: changed (-want +got):\n%s", diff)
	}
	// The email and username are free again.
	again := NewUser(1)
	if _, err := users.Create(t.Context(), again); err != nil {
		t.Errorf("Create with a deleted user's email and username: got error %v, want nil", err)
	}
}

// createAll calls Create for every user of racing at once and returns the
// errors, in the order of racing.
func createAll(t *testing.T, users user.Users, racing []user.User) []error {
	errs := make([]error, len(racing))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range racing {
		wg.Go(func() {
			<-start
			_, errs[i] = users.Create(t.Context(), u)
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

func testConcurrentSameEmail(t *testing.T, open newStores) {
	users := open(t).Users
	racing := make([]user.User, racers)
	for i := range racing {
		racing[i] = NewUser(i)
		racing[i].Email = "Race@Example.com"
		if i%2 == 1 {
			racing[i].Email = strings.ToLower(racing[i].Email)
		}
	}
	winner := checkOneWinner(t, createAll(t, users, racing), user.ErrEmailTaken)
	got, err := users.ByEmail(t.Context(), "race@example.com")
	if err != nil {
		t.Fatalf("ByEmail after the race: got error %v, want nil", err)
	}
	if got.ID != racing[winner].ID {
		t.Errorf("ByEmail after the race: got user %s, want the winner %s", got.ID, racing[winner].ID)
	}
}

func testConcurrentSameUsername(t *testing.T, open newStores) {
	users := open(t).Users
	racing := make([]user.User, racers)
	for i := range racing {
		racing[i] = NewUser(i)
		racing[i].Username = "Racer"
		if i%2 == 1 {
			racing[i].Username = "racer"
		}
	}
	winner := checkOneWinner(t, createAll(t, users, racing), user.ErrUsernameTaken)
	got, err := users.ByUsername(t.Context(), "RACER")
	if err != nil {
		t.Fatalf("ByUsername after the race: got error %v, want nil", err)
	}
	if got.ID != racing[winner].ID {
		t.Errorf("ByUsername after the race: got user %s, want the winner %s", got.ID, racing[winner].ID)
	}
}

func testConcurrentDistinct(t *testing.T, open newStores) {
	users := open(t).Users
	racing := make([]user.User, racers)
	for i := range racing {
		racing[i] = NewUser(i)
	}
	for i, err := range createAll(t, users, racing) {
		if err != nil {
			t.Errorf("Create #%d: got error %v, want nil", i, err)
		}
	}
	for _, u := range racing {
		if got, err := users.ByEmail(t.Context(), u.Email); err != nil || got.ID != u.ID {
			t.Errorf("ByEmail(%q): got user %s, error %v; want user %s, nil", u.Email, got.ID, err, u.ID)
		}
	}
}

// testDeactivate: an Update that sets IsActive false deactivates that
// user alone, whether or not any administrator exists, and of an unknown
// user is ErrNotFound.
func testDeactivate(t *testing.T, open newStores) {
	users := open(t).Users
	ada, bob := create(t, users, NewUser(1)), create(t, users, NewUser(2))
	off := user.Patch{IsActive: new(false)}
	got, err := users.Update(t.Context(), ada.ID, off)
	if err != nil || got.IsActive {
		t.Fatalf("Update(is_active=false) with no administrator: got active %v, error %v; want inactive, nil", got.IsActive, err)
	}
	if got := byID(t, users, ada.ID); got.IsActive {
		t.Errorf("ByID after deactivation: active, want inactive")
	}
	if got := byID(t, users, bob.ID); !got.IsActive {
		t.Errorf("another user after deactivation: inactive, want active")
	}
	if _, err := users.Update(t.Context(), uuid.Must(uuid.NewV7()), off); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Update(is_active=false) of an unknown user: got error %v, want %v", err, user.ErrNotFound)
	}
}

// testRehashPassword: the hash is swapped only while it is still the old
// one, the token version never moves, and a missing user is no error.
func testRehashPassword(t *testing.T, open newStores) {
	users := open(t).Users
	u := create(t, users, NewUser(1))
	other := create(t, users, NewUser(2))
	if err := users.RehashPassword(t.Context(), u.ID, u.PasswordHash, "rehashed"); err != nil {
		t.Fatalf("RehashPassword: got error %v, want nil", err)
	}
	want := u
	want.PasswordHash = "rehashed"
	if diff := cmp.Diff(want, byID(t, users, u.ID), cmpopts.IgnoreFields(user.User{}, "UpdatedAt")); diff != "" {
		t.Errorf("ByID after RehashPassword: mismatch (-want +got):\n%s", diff)
	}

	// A password change between the login and its re-hash wins.
	if err := users.SetPassword(t.Context(), u.ID, "changed"); err != nil {
		t.Fatal(err)
	}
	if err := users.RehashPassword(t.Context(), u.ID, "rehashed", "stale"); err != nil {
		t.Fatalf("RehashPassword of a stale hash: got error %v, want nil", err)
	}
	if got := byID(t, users, u.ID); got.PasswordHash != "changed" || got.TokenVersion != 1 {
		t.Errorf("after a stale RehashPassword: hash %q, token version %d; want %q, 1", got.PasswordHash, got.TokenVersion, "changed")
	}
	if err := users.RehashPassword(t.Context(), uuid.Must(uuid.NewV7()), "x", "y"); err != nil {
		t.Errorf("RehashPassword of a missing user: got error %v, want nil", err)
	}
	if diff := cmp.Diff(other, byID(t, users, other.ID)); diff != "" {
		t.Errorf("another user after RehashPassword: changed (-want +got):\n%s", diff)
	}
}

// testTrustedEmail: the trusted address is the registration email until an
// email is verified, then the last verified one. An email change keeps it
// (and unverifies the new email); a patch with EmailVerified true verifies
// the resulting email and makes it the trusted address; EmailVerified
// false is no patch at all. Every step is read back through ByID too.
func testTrustedEmail(t *testing.T, open newStores) {
	users := open(t).Users
	const registered = "user1@example.com"
	u := create(t, users, NewUser(1))
	if u.TrustedEmail != registered {
		t.Fatalf("Create: TrustedEmail = %q, want the registration email %q", u.TrustedEmail, registered)
	}
	yes, no := true, false
	for _, step := range []struct {
		name             string
		p                user.Patch
		email, trusted   string
		verified, active bool
	}{
		{"a new email", user.Patch{Email: new("second@example.com")}, "second@example.com", registered, false, true},
		{"another new email", user.Patch{Email: new("third@example.com")}, "third@example.com", registered, false, true},
		{"a new email, EmailVerified false", user.Patch{Email: new("fourth@example.com"), EmailVerified: &no},
			"fourth@example.com", registered, false, true},
		{"the current email verified", user.Patch{EmailVerified: &yes}, "fourth@example.com", "fourth@example.com", true, true},
		{"the letter case only", user.Patch{Email: new("FOURTH@example.com")}, "FOURTH@example.com", "fourth@example.com", true, true},
		{"a new email after a verified one", user.Patch{Email: new("fifth@example.com")}, "fifth@example.com", "fourth@example.com", false, true},
		{"EmailVerified false alone", user.Patch{EmailVerified: &no}, "fifth@example.com", "fourth@example.com", false, true},
		{"a new email, verified", user.Patch{Email: new("sixth@example.com"), EmailVerified: &yes},
			"sixth@example.com", "sixth@example.com", true, true},
		{"a new email after a verified one, with a deactivation", user.Patch{Email: new("seventh@example.com"), IsActive: &no},
			"seventh@example.com", "sixth@example.com", false, false},
		{"the registration email, verified, with a deactivation", user.Patch{Email: new(registered), EmailVerified: &yes, IsActive: &no},
			registered, registered, true, false},
	} {
		got, err := users.Update(t.Context(), u.ID, step.p)
		if err != nil {
			t.Fatalf("Update(%s): got error %v, want nil", step.name, err)
		}
		for call, r := range map[string]user.User{"Update": got, "ByID": byID(t, users, u.ID)} {
			if r.Email != step.email || r.TrustedEmail != step.trusted || r.EmailVerified != step.verified || r.IsActive != step.active {
				t.Errorf("%s(%s) = email %q, trusted %q, verified %v, active %v; want %q, %q, %v, %v", call, step.name,
					r.Email, r.TrustedEmail, r.EmailVerified, r.IsActive, step.email, step.trusted, step.verified, step.active)
			}
		}
	}
}
