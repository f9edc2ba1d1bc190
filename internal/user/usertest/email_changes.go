package usertest

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The EmailChanges group: a change is used once, before it expires, by
// exactly one of concurrent uses; UseAll uses up a user's changes; deleting
// the user deletes them.

// NewEmailChange returns a change of u's email from u.Email to newEmail
// made at now, undoable for a week, with a random hash; it is not stored.
func NewEmailChange(u user.User, newEmail string, now time.Time) user.EmailChange {
	h := sha256.Sum256([]byte(rand.Text()))
	now = now.UTC().Truncate(time.Microsecond)
	return user.EmailChange{
		Hash: h[:], UserID: u.ID, OldEmail: u.Email, NewEmail: newEmail,
		CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour),
	}
}

// storeChange stores a new change of u made at now or stops the test.
func storeChange(t *testing.T, changes user.EmailChanges, u user.User, now time.Time) user.EmailChange {
	t.Helper()
	c := NewEmailChange(u, "new."+u.Email, now)
	if err := changes.Create(t.Context(), c); err != nil {
		t.Fatalf("Create(email change): got error %v, want nil", err)
	}
	return c
}

func testEmailChangeRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	c := storeChange(t, st.EmailChanges, u, now())
	at := now().Add(time.Minute)
	got, err := st.EmailChanges.Use(t.Context(), c.Hash, at)
	if err != nil {
		t.Fatalf("Use: got error %v, want nil", err)
	}
	want := c
	want.UsedAt = at
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Use: mismatch (-want +got):\n%s", diff)
	}
	if _, err := st.EmailChanges.Use(t.Context(), c.Hash, at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("Use a second time: got %v, want ErrInvalidToken", err)
	}
	ghost := NewEmailChange(NewUser(2), "x@example.com", now())
	if err := st.EmailChanges.Create(t.Context(), ghost); err == nil {
		t.Error("Create of a change of a missing user: got nil error, want one")
	}
}

// testEmailChangeRefused: an unknown or expired change is ErrInvalidToken;
// the last instant before expiry still works.
func testEmailChangeRefused(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	c := storeChange(t, st.EmailChanges, u, now())
	unknown := NewEmailChange(u, "x@example.com", now())
	for _, tt := range []struct {
		name string
		hash []byte
		at   time.Time
	}{
		{"unknown", unknown.Hash, c.CreatedAt},
		{"expired", c.Hash, c.ExpiresAt},
		{"long expired", c.Hash, c.ExpiresAt.Add(time.Hour)},
	} {
		if _, err := st.EmailChanges.Use(t.Context(), tt.hash, tt.at); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("Use(%s): got %v, want ErrInvalidToken", tt.name, err)
		}
	}
	last := c.ExpiresAt.Add(-time.Microsecond)
	if got, err := st.EmailChanges.Use(t.Context(), c.Hash, last); err != nil || !got.UsedAt.Equal(last) {
		t.Errorf("Use at the last instant = used at %v, %v; want %v, nil", got.UsedAt, err, last)
	}
}

// testConcurrentEmailChangeUse uses one change from several goroutines at
// once: exactly one may succeed.
func testConcurrentEmailChangeUse(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	c := storeChange(t, st.EmailChanges, u, now())
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = st.EmailChanges.Use(t.Context(), c.Hash, now())
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, user.ErrInvalidToken):
			t.Errorf("use #%d: got error %v, want nil or ErrInvalidToken", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent uses of one change: %d succeeded, want exactly 1", n, won)
	}
}

// testEmailChangeUseAll: UseAll uses up every change of one user, and no
// other user's.
func testEmailChangeUseAll(t *testing.T, open newStores) {
	st := open(t)
	ctx, changes := t.Context(), st.EmailChanges
	u, other := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	c1, c2 := storeChange(t, changes, u, now()), storeChange(t, changes, u, now())
	theirs := storeChange(t, changes, other, now())
	if err := changes.UseAll(ctx, u.ID, now()); err != nil {
		t.Fatalf("UseAll: got error %v, want nil", err)
	}
	for _, c := range []user.EmailChange{c1, c2} {
		if _, err := changes.Use(ctx, c.Hash, now()); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("Use after UseAll: got %v, want ErrInvalidToken", err)
		}
	}
	if _, err := changes.Use(ctx, theirs.Hash, now()); err != nil {
		t.Errorf("Use of another user's change after UseAll: got %v, want nil", err)
	}
	if err := changes.UseAll(ctx, uuid.Must(uuid.NewV7()), now()); err != nil {
		t.Errorf("UseAll of an unknown user: got error %v, want nil", err)
	}
}

func testDeleteRemovesEmailChanges(t *testing.T, open newStores) {
	st := open(t)
	u, other := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	c := storeChange(t, st.EmailChanges, u, now())
	theirs := storeChange(t, st.EmailChanges, other, now())
	if err := st.Users.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EmailChanges.Use(t.Context(), c.Hash, now()); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("Use after deleting its user: got %v, want ErrInvalidToken", err)
	}
	if _, err := st.EmailChanges.Use(t.Context(), theirs.Hash, now()); err != nil {
		t.Errorf("Use of another user's change after a Delete: got %v, want nil", err)
	}
}

// testEmailChangeInTx: a change used in a transaction that fails is
// usable again; used in one that commits, it is used.
func testEmailChangeInTx(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	c := storeChange(t, st.EmailChanges, u, now())
	use := func(tx user.Stores) error {
		_, err := tx.EmailChanges.Use(t.Context(), c.Hash, now())
		return err
	}
	err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if err := use(tx); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Atomic: got error %v, want %v", err, errAbort)
	}
	if err := st.Tx.Atomic(t.Context(), use); err != nil {
		t.Fatalf("Atomic using the change after a rollback: got error %v, want nil", err)
	}
	if _, err := st.EmailChanges.Use(t.Context(), c.Hash, now()); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("Use after a committed use: got %v, want ErrInvalidToken", err)
	}
}

// testEmailChangeHeld: a usable change holds its old address (in any
// letter case) against every other account, not its own; a used or
// expired one holds nothing.
func testEmailChangeHeld(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	other := create(t, st.Users, NewUser(2))
	c := storeChange(t, st.EmailChanges, u, now())
	held := func(email string, except uuid.UUID, at time.Time) bool {
		t.Helper()
		h, err := st.EmailChanges.Held(t.Context(), email, except, at)
		if err != nil {
			t.Fatalf("Held(%s): got error %v, want nil", email, err)
		}
		return h
	}
	if !held(strings.ToUpper(u.Email), other.ID, now()) {
		t.Errorf("Held(old address) for another account = false, want true")
	}
	if held(u.Email, u.ID, now()) {
		t.Errorf("Held(old address) for its own account = true, want false")
	}
	if held(c.NewEmail, other.ID, now()) {
		t.Errorf("Held(new address) = true, want false")
	}
	if held(u.Email, other.ID, c.ExpiresAt) {
		t.Errorf("Held(old address) once expired = true, want false")
	}
	if _, err := st.EmailChanges.Use(t.Context(), c.Hash, now()); err != nil {
		t.Fatalf("Use: %v", err)
	}
	if held(u.Email, other.ID, now()) {
		t.Errorf("Held(old address) once used = true, want false")
	}
}

// testEmailChangesOf: Of lists a user's changes oldest first, used and
// expired ones too, as stored, and never another user's.
func testEmailChangesOf(t *testing.T, open newStores) {
	st := open(t)
	ctx, changes := t.Context(), st.EmailChanges
	u, other := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	second := storeChange(t, changes, u, now().Add(time.Hour))
	first := storeChange(t, changes, u, now().Add(-30*24*time.Hour)) // expired at now
	storeChange(t, changes, other, now())
	at := now().Add(2 * time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := changes.Use(ctx, second.Hash, at); err != nil {
		t.Fatal(err)
	}
	second.UsedAt = at
	got, err := changes.Of(ctx, u.ID)
	if err != nil {
		t.Fatalf("Of: got error %v, want nil", err)
	}
	if diff := cmp.Diff([]user.EmailChange{first, second}, got); diff != "" {
		t.Errorf("Of: mismatch (-want +got):\n%s", diff)
	}
	none, err := changes.Of(ctx, uuid.Must(uuid.NewV7()))
	if err != nil || len(none) != 0 {
		t.Errorf("Of an account without changes: got %v, %v; want none", none, err)
	}
}
