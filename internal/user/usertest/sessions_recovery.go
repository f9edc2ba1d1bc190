package usertest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The tests of user.Sessions for sensitive changes and one refresh chain:
// the authentication time, re-authentication, and storing a successor
// again.

// testAuthenticatedAt: a session's AuthenticatedAt comes back as stored
// from every read; a session stored without one was authenticated at its
// creation.
func testAuthenticatedAt(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	t0 := now()
	later, laterT := NewSession(u.ID, t0)
	later.AuthenticatedAt = t0.Add(3 * time.Minute) // apart from every other time
	unsaid, unsaidT := NewSession(u.ID, t0.Add(time.Second))
	unsaid.AuthenticatedAt = time.Time{}
	for _, s := range []struct {
		sess user.Session
		rt   user.RefreshToken
	}{{later, laterT}, {unsaid, unsaidT}} {
		if err := st.Sessions.Create(t.Context(), s.sess, s.rt); err != nil {
			t.Fatalf("Create session: got error %v, want nil", err)
		}
	}
	unsaid.AuthenticatedAt = unsaid.CreatedAt
	want := []user.Session{later, unsaid}
	if diff := cmp.Diff(want, sessionOfAll(t, st.Sessions, u.ID)); diff != "" {
		t.Errorf("All: mismatch (-want +got):\n%s", diff)
	}
	active, err := st.Sessions.Active(t.Context(), u.ID, t0, user.SessionPage{})
	if diff := cmp.Diff(want, active); err != nil || diff != "" {
		t.Errorf("Active: error %v, mismatch (-want +got):\n%s", err, diff)
	}
	for i, rt := range []user.RefreshToken{laterT, unsaidT} {
		if _, got, err := st.Sessions.RefreshToken(t.Context(), rt.Hash); err != nil || !got.AuthenticatedAt.Equal(want[i].AuthenticatedAt) {
			t.Errorf("RefreshToken: session authenticated at %v, error %v; want %v, nil", got.AuthenticatedAt, err, want[i].AuthenticatedAt)
		}
		if _, got, err := st.Sessions.UserSession(t.Context(), u.ID, want[i].ID); err != nil || !got.AuthenticatedAt.Equal(want[i].AuthenticatedAt) {
			t.Errorf("UserSession: authenticated at %v, error %v; want %v, nil", got.AuthenticatedAt, err, want[i].AuthenticatedAt)
		}
	}
}

// sessionOfAll returns every session of userID, or stops the test.
func sessionOfAll(t *testing.T, sessions user.Sessions, userID uuid.UUID) []user.Session {
	t.Helper()
	all, err := sessions.All(t.Context(), userID, user.SessionPage{})
	if err != nil {
		t.Fatalf("All: got error %v, want nil", err)
	}
	return all
}

// testReauthenticated: Reauthenticated moves the session's authentication
// time and nothing else; a session that is missing, another user's or
// revoked is ErrSessionNotFound and stays as it was.
func testReauthenticated(t *testing.T, open newStores) {
	st := open(t)
	ctx, sessions := t.Context(), st.Sessions
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	s, _ := startSession(t, sessions, ada, t0)
	bobs, _ := startSession(t, sessions, bob, t0)
	revoked, _ := startSession(t, sessions, ada, t0)
	if err := sessions.Revoke(ctx, ada.ID, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	revoked.RevokedAt = t0
	at := t0.Add(5 * time.Minute)
	if err := sessions.Reauthenticated(ctx, ada.ID, s.ID, at); err != nil {
		t.Fatalf("Reauthenticated: got error %v, want nil", err)
	}
	s.AuthenticatedAt = at
	for _, tt := range []struct {
		name        string
		userID, id  uuid.UUID
		unchanged   user.Session
		unchangedOf uuid.UUID
	}{
		{"another user's session", ada.ID, bobs.ID, bobs, bob.ID},
		{"the session with another user's id", bob.ID, s.ID, s, ada.ID},
		{"a missing session", ada.ID, uuid.Must(uuid.NewV7()), s, ada.ID},
		{"a revoked session", ada.ID, revoked.ID, revoked, ada.ID},
	} {
		if err := sessions.Reauthenticated(ctx, tt.userID, tt.id, at.Add(time.Minute)); !errors.Is(err, user.ErrSessionNotFound) {
			t.Errorf("Reauthenticated(%s): got error %v, want %v", tt.name, err, user.ErrSessionNotFound)
		}
		if diff := cmp.Diff(tt.unchanged, sessionOf(t, sessions, tt.unchangedOf, tt.unchanged.ID)); diff != "" {
			t.Errorf("after Reauthenticated(%s): session changed (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, got, err := sessions.UserSession(ctx, ada.ID, s.ID); err != nil || !got.AuthenticatedAt.Equal(at) {
		t.Errorf("UserSession after Reauthenticated: authenticated at %v, error %v; want %v, nil", got.AuthenticatedAt, err, at)
	}
}

// testAddRefreshTokenAgain: storing a token whose hash its session has
// already (the same successor, computed again by a second refresh with one
// token) changes nothing and is no error, even once that token is used;
// the rule for replaces comes first; the hash of another session's token
// is an error that is none of the business errors.
func testAddRefreshTokenAgain(t *testing.T, open newStores) {
	st := open(t)
	ctx, sessions := t.Context(), st.Sessions
	u := create(t, st.Users, NewUser(1))
	start := now()
	s, first := startSession(t, sessions, u, start)
	at := start.Add(time.Minute)
	next := NewRefreshToken(s.ID, at)
	if err := sessions.AddRefreshToken(ctx, next, first.Hash); err != nil {
		t.Fatalf("AddRefreshToken: got error %v, want nil", err)
	}
	again := next // computed a second later
	again.CreatedAt, again.ExpiresAt = at.Add(time.Second), next.ExpiresAt.Add(time.Second)
	if err := sessions.AddRefreshToken(ctx, again, nil); err != nil {
		t.Errorf("AddRefreshToken of a stored token: got error %v, want nil", err)
	}
	if err := sessions.AddRefreshToken(ctx, again, first.Hash); !errors.Is(err, user.ErrRefreshTokenUsed) {
		t.Errorf("AddRefreshToken of a stored token replacing a used one: got error %v, want %v", err, user.ErrRefreshTokenUsed)
	}
	wantSession := s
	wantSession.LastUsedAt = at
	checkToken := func(step string, want user.RefreshToken, wantSess user.Session) {
		t.Helper()
		got, sess, err := sessions.RefreshToken(ctx, want.Hash)
		if err != nil {
			t.Fatalf("RefreshToken after %s: got error %v, want nil", step, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("token after %s: changed (-want +got):\n%s", step, diff)
		}
		if diff := cmp.Diff(wantSess, sess); diff != "" {
			t.Errorf("session after %s: mismatch (-want +got):\n%s", step, diff)
		}
	}
	checkToken("storing it again", next, wantSession)

	third := NewRefreshToken(s.ID, at.Add(time.Minute))
	if err := sessions.AddRefreshToken(ctx, third, next.Hash); err != nil {
		t.Fatalf("AddRefreshToken replacing the successor: got error %v, want nil", err)
	}
	if err := sessions.AddRefreshToken(ctx, again, nil); err != nil {
		t.Errorf("AddRefreshToken of a stored, used token: got error %v, want nil", err)
	}
	next.UsedAt, wantSession.LastUsedAt = third.CreatedAt, third.CreatedAt
	checkToken("storing a used token again", next, wantSession)

	other, _ := startSession(t, sessions, u, start)
	theirs := NewRefreshToken(other.ID, at)
	theirs.Hash = next.Hash
	err := sessions.AddRefreshToken(ctx, theirs, nil)
	if err == nil || errors.Is(err, user.ErrSessionNotFound) || errors.Is(err, user.ErrRefreshTokenUsed) || errors.Is(err, user.ErrNotFound) {
		t.Errorf("AddRefreshToken of another session's hash: got error %v, want an error other than the business errors", err)
	}
	checkToken("storing its hash in another session", next, wantSession)
	if got := sessionOf(t, sessions, u.ID, other.ID); !got.LastUsedAt.Equal(start) {
		t.Errorf("the other session after a refused token: last used %v, want %v", got.LastUsedAt, start)
	}
}

// testConcurrentSameSuccessor: refreshes racing with one token, as the
// service makes them (rotate it; on ErrRefreshTokenUsed store the same
// successor without rotating), all succeed and leave one successor.
func testConcurrentSameSuccessor(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	s, first := startSession(t, st.Sessions, u, now())
	next := NewRefreshToken(s.ID, now())
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			err := st.Sessions.AddRefreshToken(t.Context(), next, first.Hash)
			if errors.Is(err, user.ErrRefreshTokenUsed) {
				err = st.Sessions.AddRefreshToken(t.Context(), next, nil)
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("refresh #%d: got error %v, want nil", i, err)
		}
	}
	if got, _, err := st.Sessions.RefreshToken(t.Context(), first.Hash); err != nil || !got.UsedAt.Equal(next.CreatedAt) {
		t.Errorf("the token refreshed with: used at %v, error %v; want %v, nil", got.UsedAt, err, next.CreatedAt)
	}
	if got, _, err := st.Sessions.RefreshToken(t.Context(), next.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("the successor: used at %v, error %v; want unused, nil", got.UsedAt, err)
	}
}
