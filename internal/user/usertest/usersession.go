package usertest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// testUserSession: UserSession returns what ByID returns but the password
// hash (and the trusted address, which authenticating does not need), and
// the session's id, user, expiry, revocation and authentication time,
// whatever the session's state (the service judges revocation and expiry);
// ErrNotFound for a missing user, a missing session or another user's
// session.
func testUserSession(t *testing.T, open newStores) {
	st := open(t)
	ctx := t.Context()
	ada := create(t, st.Users, NewUser(1))
	bob := create(t, st.Users, NewUser(2))
	adas, _ := NewSession(ada.ID, now())
	adas.AuthenticatedAt = adas.CreatedAt.Add(time.Minute)                                         // apart from every other time
	adas.AMR, adas.ACR = []string{user.AMRPassword, user.AMROTP, user.AMRMFA}, user.ACRMultiFactor // the pages read it
	if err := st.Sessions.Create(ctx, adas, NewRefreshToken(adas.ID, now())); err != nil {
		t.Fatal(err)
	}
	bobs, _ := startSession(t, st.Sessions, bob, now())
	revoked, _ := startSession(t, st.Sessions, ada, now())
	at := now().Add(time.Minute)
	if err := st.Sessions.Revoke(ctx, ada.ID, revoked.ID, at); err != nil {
		t.Fatal(err)
	}
	revoked.RevokedAt = at

	for _, want := range []user.Session{adas, revoked} {
		u, s, err := st.Sessions.UserSession(ctx, ada.ID, want.ID)
		if err != nil {
			t.Fatalf("UserSession(ada, %v): got error %v, want nil", want.ID, err)
		}
		byID, err := st.Users.ByID(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		byID.PasswordHash = "" // never read to authenticate a request
		if diff := cmp.Diff(byID, u, cmpopts.IgnoreFields(user.User{}, "TrustedEmail")); diff != "" {
			t.Errorf("UserSession user: mismatch with ByID (-want +got):\n%s", diff)
		}
		want = user.Session{ID: want.ID, UserID: want.UserID, ExpiresAt: want.ExpiresAt, RevokedAt: want.RevokedAt,
			AuthenticatedAt: want.AuthenticatedAt, AMR: want.AMR, ACR: want.ACR}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("UserSession session: mismatch (-want +got):\n%s", diff)
		}
	}

	for _, tt := range []struct {
		name            string
		userID, session uuid.UUID
	}{
		{"another user's session", ada.ID, bobs.ID},
		{"the session with another user", bob.ID, adas.ID},
		{"a missing session", ada.ID, uuid.Must(uuid.NewV7())},
		{"a missing user", uuid.Must(uuid.NewV7()), adas.ID},
	} {
		if _, _, err := st.Sessions.UserSession(ctx, tt.userID, tt.session); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UserSession with %s: got error %v, want %v", tt.name, err, user.ErrNotFound)
		}
	}

	if err := st.Users.Delete(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Sessions.UserSession(ctx, ada.ID, adas.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserSession of a deleted user: got error %v, want %v", err, user.ErrNotFound)
	}
}

// testUserSessionSeesChanges: UserSession reads what was just written (a
// deactivation, a password change's new token version), so no state can be
// served stale.
func testUserSessionSeesChanges(t *testing.T, open newStores) {
	st := open(t)
	ctx := t.Context()
	u := create(t, st.Users, NewUser(1))
	s, _ := startSession(t, st.Sessions, u, now())
	if err := st.Users.SetPassword(ctx, u.ID, "new hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Users.Update(ctx, u.ID, user.Patch{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.Sessions.UserSession(ctx, u.ID, s.ID)
	if err != nil {
		t.Fatalf("UserSession: got error %v, want nil", err)
	}
	if got.IsActive || got.TokenVersion != u.TokenVersion+1 {
		t.Errorf("UserSession after deactivation and a password change: got active %v, version %d; want false, %d",
			got.IsActive, got.TokenVersion, u.TokenVersion+1)
	}
}

// testConcurrentUserSession: many lookups at once (which a store may answer
// together) each get their own user and session, and a lookup of a session
// with another user's id gets ErrNotFound, whatever is asked beside it.
func testConcurrentUserSession(t *testing.T, open newStores) {
	st := open(t)
	const accounts, lookups, rounds = 8, 64, 10
	users := make([]user.User, accounts)
	sessions := make([]user.Session, accounts)
	for i := range accounts {
		users[i] = create(t, st.Users, NewUser(i+1))
		sessions[i], _ = startSession(t, st.Sessions, users[i], now())
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range lookups {
		wg.Go(func() {
			<-start
			k := g % accounts
			userID := users[k].ID
			if g%4 == 3 { // another account's session
				userID = users[(k+1)%accounts].ID
			}
			for range rounds {
				u, s, err := st.Sessions.UserSession(t.Context(), userID, sessions[k].ID)
				switch {
				case g%4 == 3 && !errors.Is(err, user.ErrNotFound):
					t.Errorf("lookup %d: session of account %d with the id of another: got error %v, want %v", g, k, err, user.ErrNotFound)
					return
				case g%4 == 3:
				case err != nil:
					t.Errorf("lookup %d: got error %v, want nil", g, err)
					return
				case u.ID != users[k].ID || u.Email != users[k].Email || s.ID != sessions[k].ID || s.UserID != users[k].ID ||
					!s.ExpiresAt.Equal(sessions[k].ExpiresAt):
					t.Errorf("lookup %d: got user %v (%s) and session %v of %v, want user %v (%s) and session %v",
						g, u.ID, u.Email, s.ID, s.UserID, users[k].ID, users[k].Email, sessions[k].ID)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
}
