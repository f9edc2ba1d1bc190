package usertest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// NewSession returns a session of userID created (and authenticated) at
// now, lasting a day, and its first refresh token, valid for an hour;
// neither is stored.
func NewSession(userID uuid.UUID, now time.Time) (user.Session, user.RefreshToken) {
	now = now.UTC().Truncate(time.Microsecond)
	s := user.Session{
		ID: uuid.Must(uuid.NewV7()), UserID: userID, CreatedAt: now, LastUsedAt: now, AuthenticatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), UserAgent: "Mozilla/5.0 (usertest) Zoë", IP: "192.0.2.1",
	}
	return s, NewRefreshToken(s.ID, now)
}

// NewRefreshToken returns an unused refresh token of session sessionID
// created at now, valid for an hour, with a random hash.
func NewRefreshToken(sessionID uuid.UUID, now time.Time) user.RefreshToken {
	h := sha256.Sum256([]byte(rand.Text()))
	now = now.UTC().Truncate(time.Microsecond)
	return user.RefreshToken{Hash: h[:], SessionID: sessionID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// startSession stores a new session of u or stops the test.
func startSession(t *testing.T, sessions user.Sessions, u user.User, now time.Time) (user.Session, user.RefreshToken) {
	t.Helper()
	s, rt := NewSession(u.ID, now)
	if err := sessions.Create(t.Context(), s, rt); err != nil {
		t.Fatalf("Create session: got error %v, want nil", err)
	}
	return s, rt
}

// sessionOf returns the session id of userID as All lists it, or stops
// the test when All fails or lists no such session.
func sessionOf(t *testing.T, sessions user.Sessions, userID, id uuid.UUID) user.Session {
	t.Helper()
	all, err := sessions.All(t.Context(), userID, user.SessionPage{})
	if err != nil {
		t.Fatalf("All: got error %v, want nil", err)
	}
	for _, s := range all {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("All of user %s: no session %s among %d", userID, id, len(all))
	return user.Session{}
}

// activeIDs lists the ids of userID's sessions Active returns at now.
func activeIDs(t *testing.T, sessions user.Sessions, userID uuid.UUID, now time.Time) []uuid.UUID {
	t.Helper()
	active, err := sessions.Active(t.Context(), userID, now, user.SessionPage{})
	if err != nil {
		t.Fatalf("Active: got error %v, want nil", err)
	}
	ids := make([]uuid.UUID, len(active))
	for i, s := range active {
		ids[i] = s.ID
	}
	return ids
}

func testSessionRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	s, rt := startSession(t, st.Sessions, u, now())
	if diff := cmp.Diff(s, sessionOf(t, st.Sessions, u.ID, s.ID)); diff != "" {
		t.Errorf("All: session mismatch (-want +got):\n%s", diff)
	}
	gotT, gotS, err := st.Sessions.RefreshToken(t.Context(), rt.Hash)
	if err != nil {
		t.Fatalf("RefreshToken: got error %v, want nil", err)
	}
	if diff := cmp.Diff(rt, gotT); diff != "" {
		t.Errorf("RefreshToken: token mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(s, gotS); diff != "" {
		t.Errorf("RefreshToken: session mismatch (-want +got):\n%s", diff)
	}
	// A session of a missing user is refused.
	ghost, ghostT := NewSession(uuid.Must(uuid.NewV7()), now())
	if err := st.Sessions.Create(t.Context(), ghost, ghostT); err == nil {
		t.Errorf("Create of a session of a missing user: got nil error, want one")
	}
	// So is a session whose first token has the hash of another session's
	// token, and it is not stored without its token: the session and its
	// first token are stored together or not at all.
	twin, twinT := NewSession(u.ID, now())
	twinT.Hash = rt.Hash
	if err := st.Sessions.Create(t.Context(), twin, twinT); err == nil {
		t.Errorf("Create with a first token of another session's hash: got nil error, want one")
	}
	if _, _, err := st.Sessions.UserSession(t.Context(), u.ID, twin.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the session whose first token was refused: UserSession error %v, want %v", err, user.ErrNotFound)
	}
	if gotT, gotS, err := st.Sessions.RefreshToken(t.Context(), rt.Hash); err != nil || gotS.ID != s.ID || gotT.SessionID != s.ID {
		t.Errorf("the token whose hash was offered again: got session %s (error %v), want it still of %s", gotS.ID, err, s.ID)
	}
}

// testSessionClient: a session keeps the client its login named, "" for
// none, and a session that does not know its client (stored before the
// stores kept it) reads back as such, through All and RefreshToken.
func testSessionClient(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	for _, tt := range []struct {
		name string
		set  func(*user.Session)
	}{
		{"a named client", func(s *user.Session) { s.ClientID = "app-a" }},
		{"no client", func(s *user.Session) { s.ClientID = "" }},
		{"a client of 255 characters", func(s *user.Session) { s.ClientID = strings.Repeat("c", user.MaxUserAgent) }},
		{"an unknown client", func(s *user.Session) { s.AnyClient = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, rt := NewSession(u.ID, now())
			tt.set(&s)
			if err := st.Sessions.Create(t.Context(), s, rt); err != nil {
				t.Fatalf("Create: got error %v, want nil", err)
			}
			if diff := cmp.Diff(s, sessionOf(t, st.Sessions, u.ID, s.ID)); diff != "" {
				t.Errorf("All: session mismatch (-want +got):\n%s", diff)
			}
			_, got, err := st.Sessions.RefreshToken(t.Context(), rt.Hash)
			if err != nil {
				t.Fatalf("RefreshToken: got error %v, want nil", err)
			}
			if got.ClientID != s.ClientID || got.AnyClient != s.AnyClient {
				t.Errorf("RefreshToken: client %q (any %t), want %q (any %t)", got.ClientID, got.AnyClient, s.ClientID, s.AnyClient)
			}
		})
	}
}

func testSessionNotFound(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	s, _ := startSession(t, st.Sessions, ada, now())
	unknown := uuid.Must(uuid.NewV7())
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"Revoke of an unknown id", func() error { return st.Sessions.Revoke(t.Context(), ada.ID, unknown, now()) }},
		{"Revoke of another user", func() error { return st.Sessions.Revoke(t.Context(), bob.ID, s.ID, now()) }},
		{"RefreshToken of an unknown hash", func() error {
			_, _, err := st.Sessions.RefreshToken(t.Context(), NewRefreshToken(s.ID, now()).Hash)
			return err
		}},
	} {
		if err := tt.do(); !errors.Is(err, user.ErrSessionNotFound) {
			t.Errorf("%s: got error %v, want %v", tt.call, err, user.ErrSessionNotFound)
		}
	}
	if got := sessionOf(t, st.Sessions, ada.ID, s.ID); !got.RevokedAt.IsZero() {
		t.Errorf("session after refused revocations: revoked at %v, want not revoked", got.RevokedAt)
	}
	if got, err := st.Sessions.All(t.Context(), bob.ID, user.SessionPage{}); err != nil || len(got) != 0 {
		t.Errorf("All of another user: got %d sessions, error %v; want none, nil", len(got), err)
	}
}

func testRotateRefreshToken(t *testing.T, open newStores) {
	st := open(t)
	sessions := st.Sessions
	u := create(t, st.Users, NewUser(1))
	start := now()
	s, first := startSession(t, sessions, u, start)
	at := start.Add(time.Minute)
	second := NewRefreshToken(s.ID, at)
	if err := sessions.AddRefreshToken(t.Context(), second, first.Hash); err != nil {
		t.Fatalf("AddRefreshToken replacing the first: got error %v, want nil", err)
	}
	got, sess, err := sessions.RefreshToken(t.Context(), first.Hash)
	if err != nil || !got.UsedAt.Equal(at) {
		t.Errorf("first token after rotation: used at %v, error %v; want %v, nil", got.UsedAt, err, at)
	}
	if !sess.LastUsedAt.Equal(at) {
		t.Errorf("session after rotation: last used %v, want %v", sess.LastUsedAt, at)
	}
	if got, _, err := sessions.RefreshToken(t.Context(), second.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("second token: used at %v, error %v; want unused, nil", got.UsedAt, err)
	}
	// The first token cannot be rotated twice.
	third := NewRefreshToken(s.ID, at.Add(time.Second))
	if err := sessions.AddRefreshToken(t.Context(), third, first.Hash); !errors.Is(err, user.ErrRefreshTokenUsed) {
		t.Errorf("AddRefreshToken replacing a used token: got error %v, want %v", err, user.ErrRefreshTokenUsed)
	}
	if _, _, err := sessions.RefreshToken(t.Context(), third.Hash); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("token of a refused rotation: got error %v, want it not stored", err)
	}
	// A sibling (the grace case) replaces nothing.
	if err := sessions.AddRefreshToken(t.Context(), third, nil); err != nil {
		t.Errorf("AddRefreshToken without replacing: got error %v, want nil", err)
	}
	if got, _, err := sessions.RefreshToken(t.Context(), second.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("second token after a sibling: used at %v, error %v; want unused, nil", got.UsedAt, err)
	}
	// A token of a missing session is refused.
	if err := sessions.AddRefreshToken(t.Context(), NewRefreshToken(uuid.Must(uuid.NewV7()), at), nil); err == nil {
		t.Errorf("AddRefreshToken of a missing session: got nil error, want one")
	}
}

func testConcurrentRotation(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	s, first := startSession(t, st.Sessions, u, now())
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = st.Sessions.AddRefreshToken(t.Context(), NewRefreshToken(s.ID, now()), first.Hash)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, user.ErrRefreshTokenUsed):
			t.Errorf("rotation #%d: got error %v, want nil or %v", i, err, user.ErrRefreshTokenUsed)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent rotations of one token succeeded, want exactly 1", won)
	}
}

func testActiveSessions(t *testing.T, open newStores) {
	st := open(t)
	sessions := st.Sessions
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	older, _ := startSession(t, sessions, ada, t0.Add(-time.Hour))
	newer, _ := startSession(t, sessions, ada, t0)
	revoked, _ := startSession(t, sessions, ada, t0)
	startSession(t, sessions, ada, t0.Add(-48*time.Hour)) // expired: lasts a day
	startSession(t, sessions, bob, t0)
	if err := sessions.Revoke(t.Context(), ada.ID, revoked.ID, t0); err != nil {
		t.Fatalf("Revoke: got error %v, want nil", err)
	}
	if err := sessions.Revoke(t.Context(), ada.ID, revoked.ID, t0); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("Revoke again: got error %v, want %v", err, user.ErrSessionNotFound)
	}
	got, err := sessions.Active(t.Context(), ada.ID, t0, user.SessionPage{})
	if err != nil {
		t.Fatalf("Active: got error %v, want nil", err)
	}
	if diff := cmp.Diff([]user.Session{older, newer}, got); diff != "" {
		t.Errorf("Active: mismatch (-want +got):\n%s", diff)
	}
	if got := sessionOf(t, sessions, ada.ID, revoked.ID); !got.RevokedAt.Equal(t0) {
		t.Errorf("a revoked session: revoked at %v, want %v", got.RevokedAt, t0)
	}
	// Later, the newer one has expired too.
	got, err = sessions.Active(t.Context(), ada.ID, newer.ExpiresAt, user.SessionPage{})
	if err != nil || len(got) != 0 {
		t.Errorf("Active at the sessions' expiry: got %d sessions, error %v; want none", len(got), err)
	}
	none, err := sessions.Active(t.Context(), uuid.Must(uuid.NewV7()), t0, user.SessionPage{})
	if err != nil || len(none) != 0 {
		t.Errorf("Active of an unknown user: got %v, %v; want none, nil", none, err)
	}
}

func testRevokeAll(t *testing.T, open newStores) {
	st := open(t)
	sessions := st.Sessions
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	a1, _ := startSession(t, sessions, ada, t0)
	a2, _ := startSession(t, sessions, ada, t0.Add(time.Second))
	a3, _ := startSession(t, sessions, ada, t0.Add(2*time.Second))
	b1, _ := startSession(t, sessions, bob, t0)
	if err := sessions.RevokeAll(t.Context(), ada.ID, a2.ID, t0); err != nil {
		t.Fatalf("RevokeAll except one: got error %v, want nil", err)
	}
	wantActive := func(who user.User, want ...uuid.UUID) {
		t.Helper()
		if diff := cmp.Diff(want, activeIDs(t, sessions, who.ID, t0), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Active of %s: mismatch (-want +got):\n%s", who.Username, diff)
		}
	}
	wantActive(ada, a2.ID)
	wantActive(bob, b1.ID)
	for _, s := range []user.Session{a1, a3} {
		if got := sessionOf(t, sessions, ada.ID, s.ID); !got.RevokedAt.Equal(t0) {
			t.Errorf("revoked session %s: revoked at %v, want %v", s.ID, got.RevokedAt, t0)
		}
	}
	if err := sessions.RevokeAll(t.Context(), ada.ID, uuid.Nil, t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeAll: got error %v, want nil", err)
	}
	wantActive(ada)
	wantActive(bob, b1.ID)
	// An earlier revocation keeps its time.
	if got := sessionOf(t, sessions, ada.ID, a1.ID); !got.RevokedAt.Equal(t0) {
		t.Errorf("session revoked twice: revoked at %v, want the first time %v", got.RevokedAt, t0)
	}
}

func testDeleteRemovesSessions(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	_, rt := startSession(t, st.Sessions, ada, now())
	kept, keptT := startSession(t, st.Sessions, bob, now())
	if err := st.Users.Delete(t.Context(), ada.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Sessions.All(t.Context(), ada.ID, user.SessionPage{}); err != nil || len(got) != 0 {
		t.Errorf("All after Delete: got %d sessions, error %v; want none, nil", len(got), err)
	}
	if _, _, err := st.Sessions.RefreshToken(t.Context(), rt.Hash); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("RefreshToken after Delete: got error %v, want %v", err, user.ErrSessionNotFound)
	}
	if _, _, err := st.Sessions.RefreshToken(t.Context(), keptT.Hash); err != nil {
		t.Errorf("another user's token after Delete: got error %v, want nil", err)
	}
	sessionOf(t, st.Sessions, bob.ID, kept.ID) // another user's session stays
}

func testAllSessions(t *testing.T, open newStores) {
	st := open(t)
	sessions := st.Sessions
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	if got, err := sessions.All(t.Context(), ada.ID, user.SessionPage{}); err != nil || len(got) != 0 {
		t.Fatalf("All with none: got %v, %v; want none, nil", got, err)
	}
	t0 := now().Add(-48 * time.Hour)
	expired, _ := startSession(t, sessions, ada, t0) // lasts a day: long over
	revoked, _ := startSession(t, sessions, ada, t0.Add(time.Hour))
	active, _ := startSession(t, sessions, ada, now())
	startSession(t, sessions, bob, t0)
	revokedAt := now()
	if err := sessions.Revoke(t.Context(), ada.ID, revoked.ID, revokedAt); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	revoked.RevokedAt = revokedAt
	got, err := sessions.All(t.Context(), ada.ID, user.SessionPage{})
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	want := []user.Session{expired, revoked, active}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("All: want every session of the user, oldest first (-want +got):\n%s", diff)
	}
	// Paged by the key of each page's last session, two sessions made at
	// the same instant included (ID order between them).
	twin, _ := startSession(t, sessions, ada, active.CreatedAt)
	want = append(want, twin)
	slices.SortFunc(want[2:], func(a, b user.Session) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	var paged []user.Session
	page := user.SessionPage{Limit: 2}
	for range len(want) + 1 {
		got, err := sessions.All(t.Context(), ada.ID, page)
		if err != nil || len(got) > 2 {
			t.Fatalf("All(%+v): got %d sessions, %v; want at most 2, nil", page, len(got), err)
		}
		paged = append(paged, got...)
		if len(got) < 2 {
			break
		}
		last := got[len(got)-1]
		page.After = &user.SessionKey{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("All in pages of 2: want every session once, oldest first (-want +got):\n%s", diff)
	}
}
