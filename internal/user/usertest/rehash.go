package usertest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// testRehashPassword: the hash is swapped only while it is still the old
// one, the token version never moves, and a missing user is no error.
func testRehashPassword(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	u := create(t, repo, NewUser(1))
	other := create(t, repo, NewUser(2))
	if err := repo.RehashPassword(t.Context(), u.ID, u.PasswordHash, "rehashed"); err != nil {
		t.Fatalf("RehashPassword: got error %v, want nil", err)
	}
	want := u
	want.PasswordHash = "rehashed"
	if diff := cmp.Diff(want, byID(t, repo, u.ID), cmpopts.IgnoreFields(user.User{}, "UpdatedAt")); diff != "" {
		t.Errorf("ByID after RehashPassword: mismatch (-want +got):\n%s", diff)
	}

	// A password change between the login and its re-hash wins.
	if err := repo.SetPassword(t.Context(), u.ID, "changed"); err != nil {
		t.Fatal(err)
	}
	if err := repo.RehashPassword(t.Context(), u.ID, "rehashed", "stale"); err != nil {
		t.Fatalf("RehashPassword of a stale hash: got error %v, want nil", err)
	}
	if got := byID(t, repo, u.ID); got.PasswordHash != "changed" || got.TokenVersion != 1 {
		t.Errorf("after a stale RehashPassword: hash %q, token version %d; want %q, 1", got.PasswordHash, got.TokenVersion, "changed")
	}
	if err := repo.RehashPassword(t.Context(), uuid.Must(uuid.NewV7()), "x", "y"); err != nil {
		t.Errorf("RehashPassword of a missing user: got error %v, want nil", err)
	}
	if diff := cmp.Diff(other, byID(t, repo, other.ID)); diff != "" {
		t.Errorf("another user after RehashPassword: changed (-want +got):\n%s", diff)
	}
}
