package usertest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// testActivePaged: paging through Active with the key of each page's last
// session lists every active session once, in order, whatever the page
// size; sessions created in one microsecond are ordered by id.
func testActivePaged(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	var want []uuid.UUID
	for i := range 7 {
		at := t0.Add(time.Duration(i/2) * time.Second) // pairs share a creation time
		s, _ := startSession(t, st.Sessions, ada, at)
		want = append(want, s.ID)
	}
	startSession(t, st.Sessions, bob, t0)
	revoked, _ := startSession(t, st.Sessions, ada, t0.Add(time.Second))
	if err := st.Sessions.Revoke(t.Context(), ada.ID, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2, 3, 7, 8} {
		var got []uuid.UUID
		var after *user.SessionKey
		for range 20 {
			page, err := st.Sessions.Active(t.Context(), ada.ID, t0, user.SessionPage{After: after, Limit: limit})
			if err != nil {
				t.Fatalf("Active(limit %d): got error %v, want nil", limit, err)
			}
			if len(page) > limit {
				t.Fatalf("Active(limit %d): got %d sessions", limit, len(page))
			}
			for _, s := range page {
				got = append(got, s.ID)
			}
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			after = &user.SessionKey{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages of %d: mismatch (-want +got):\n%s", limit, diff)
		}
	}
}

// testRevokeOldest: RevokeOldest ends the oldest active sessions beyond
// the newest keep, returns their ids oldest first, and leaves revoked,
// expired and other users' sessions alone.
func testRevokeOldest(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	expired, _ := startSession(t, st.Sessions, ada, t0.Add(-48*time.Hour))
	var live []uuid.UUID
	for i := range 5 {
		s, _ := startSession(t, st.Sessions, ada, t0.Add(time.Duration(i-10)*time.Minute))
		live = append(live, s.ID)
	}
	bobs, _ := startSession(t, st.Sessions, bob, t0.Add(-time.Hour))
	ended, err := st.Sessions.RevokeOldest(t.Context(), ada.ID, 3, t0)
	if err != nil {
		t.Fatalf("RevokeOldest: got error %v, want nil", err)
	}
	if diff := cmp.Diff(live[:2], ended); diff != "" {
		t.Errorf("RevokeOldest: ended sessions mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(live[2:], activeIDs(t, st.Sessions, ada.ID, t0)); diff != "" {
		t.Errorf("active after RevokeOldest mismatch (-want +got):\n%s", diff)
	}
	for _, id := range live[:2] {
		if got := sessionOf(t, st.Sessions, ada.ID, id); !got.RevokedAt.Equal(t0) {
			t.Errorf("an ended session: revoked at %v, want %v", got.RevokedAt, t0)
		}
	}
	if got := sessionOf(t, st.Sessions, ada.ID, expired.ID); !got.RevokedAt.IsZero() {
		t.Errorf("the expired session was revoked at %v, want left alone", got.RevokedAt)
	}
	if got := sessionOf(t, st.Sessions, bob.ID, bobs.ID); !got.RevokedAt.IsZero() {
		t.Errorf("another user's session was revoked at %v, want left alone", got.RevokedAt)
	}
	if again, err := st.Sessions.RevokeOldest(t.Context(), ada.ID, 3, t0); err != nil || len(again) != 0 {
		t.Errorf("RevokeOldest within the limit: got %v, %v; want none, nil", again, err)
	}
}
