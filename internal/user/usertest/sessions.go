package usertest

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// NewSession returns a session of userID created at now, lasting a day,
// and its first refresh token, valid for an hour; neither is stored.
func NewSession(userID uuid.UUID, now time.Time) (user.Session, user.RefreshToken) {
	now = now.UTC().Truncate(time.Microsecond)
	s := user.Session{
		ID: uuid.Must(uuid.NewV7()), UserID: userID, CreatedAt: now, LastUsedAt: now,
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
func startSession(t *testing.T, repo user.Repository, u user.User, now time.Time) (user.Session, user.RefreshToken) {
	t.Helper()
	s, rt := NewSession(u.ID, now)
	if err := repo.CreateSession(t.Context(), s, rt); err != nil {
		t.Fatalf("CreateSession: got error %v, want nil", err)
	}
	return s, rt
}

// now is a time every store keeps exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func testSessionRoundTrip(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	u := create(t, repo, NewUser(1))
	s, rt := startSession(t, repo, u, now())
	got, err := repo.Session(t.Context(), u.ID, s.ID)
	if err != nil {
		t.Fatalf("Session: got error %v, want nil", err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Session: mismatch (-want +got):\n%s", diff)
	}
	gotT, gotS, err := repo.RefreshToken(t.Context(), rt.Hash)
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
	if err := repo.CreateSession(t.Context(), ghost, ghostT); err == nil {
		t.Errorf("CreateSession of a missing user: got nil error, want one")
	}
}

func testSessionNotFound(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ada, bob := create(t, repo, NewUser(1)), create(t, repo, NewUser(2))
	s, _ := startSession(t, repo, ada, now())
	unknown := uuid.Must(uuid.NewV7())
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"Session of an unknown id", func() error { _, err := repo.Session(t.Context(), ada.ID, unknown); return err }},
		{"Session of another user", func() error { _, err := repo.Session(t.Context(), bob.ID, s.ID); return err }},
		{"RevokeSession of an unknown id", func() error { return repo.RevokeSession(t.Context(), ada.ID, unknown, now()) }},
		{"RevokeSession of another user", func() error { return repo.RevokeSession(t.Context(), bob.ID, s.ID, now()) }},
		{"RefreshToken of an unknown hash", func() error {
			_, _, err := repo.RefreshToken(t.Context(), NewRefreshToken(s.ID, now()).Hash)
			return err
		}},
	} {
		if err := tt.do(); !errors.Is(err, user.ErrSessionNotFound) {
			t.Errorf("%s: got error %v, want %v", tt.call, err, user.ErrSessionNotFound)
		}
	}
	if got, err := repo.Session(t.Context(), ada.ID, s.ID); err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("Session after refused revocations: revoked at %v, error %v; want not revoked, nil", got.RevokedAt, err)
	}
}

func testRotateRefreshToken(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	u := create(t, repo, NewUser(1))
	start := now()
	s, first := startSession(t, repo, u, start)
	at := start.Add(time.Minute)
	second := NewRefreshToken(s.ID, at)
	if err := repo.AddRefreshToken(t.Context(), second, first.Hash); err != nil {
		t.Fatalf("AddRefreshToken replacing the first: got error %v, want nil", err)
	}
	got, sess, err := repo.RefreshToken(t.Context(), first.Hash)
	if err != nil || !got.UsedAt.Equal(at) {
		t.Errorf("first token after rotation: used at %v, error %v; want %v, nil", got.UsedAt, err, at)
	}
	if !sess.LastUsedAt.Equal(at) {
		t.Errorf("session after rotation: last used %v, want %v", sess.LastUsedAt, at)
	}
	if got, _, err := repo.RefreshToken(t.Context(), second.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("second token: used at %v, error %v; want unused, nil", got.UsedAt, err)
	}
	// The first token cannot be rotated twice.
	third := NewRefreshToken(s.ID, at.Add(time.Second))
	if err := repo.AddRefreshToken(t.Context(), third, first.Hash); !errors.Is(err, user.ErrRefreshTokenUsed) {
		t.Errorf("AddRefreshToken replacing a used token: got error %v, want %v", err, user.ErrRefreshTokenUsed)
	}
	if _, _, err := repo.RefreshToken(t.Context(), third.Hash); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("token of a refused rotation: got error %v, want it not stored", err)
	}
	// A sibling (the grace case) replaces nothing.
	if err := repo.AddRefreshToken(t.Context(), third, nil); err != nil {
		t.Errorf("AddRefreshToken without replacing: got error %v, want nil", err)
	}
	if got, _, err := repo.RefreshToken(t.Context(), second.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("second token after a sibling: used at %v, error %v; want unused, nil", got.UsedAt, err)
	}
	// A token of a missing session is refused.
	if err := repo.AddRefreshToken(t.Context(), NewRefreshToken(uuid.Must(uuid.NewV7()), at), nil); err == nil {
		t.Errorf("AddRefreshToken of a missing session: got nil error, want one")
	}
}

func testConcurrentRotation(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	u := create(t, repo, NewUser(1))
	s, first := startSession(t, repo, u, now())
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = repo.AddRefreshToken(t.Context(), NewRefreshToken(s.ID, now()), first.Hash)
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

func testActiveSessions(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ada, bob := create(t, repo, NewUser(1)), create(t, repo, NewUser(2))
	t0 := now()
	older, _ := startSession(t, repo, ada, t0.Add(-time.Hour))
	newer, _ := startSession(t, repo, ada, t0)
	revoked, _ := startSession(t, repo, ada, t0)
	expired, expiredT := NewSession(ada.ID, t0.Add(-48*time.Hour))
	if err := repo.CreateSession(t.Context(), expired, expiredT); err != nil {
		t.Fatal(err)
	}
	startSession(t, repo, bob, t0)
	if err := repo.RevokeSession(t.Context(), ada.ID, revoked.ID, t0); err != nil {
		t.Fatalf("RevokeSession: got error %v, want nil", err)
	}
	if err := repo.RevokeSession(t.Context(), ada.ID, revoked.ID, t0); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("RevokeSession again: got error %v, want %v", err, user.ErrSessionNotFound)
	}
	got, err := repo.ActiveSessions(t.Context(), ada.ID, t0)
	if err != nil {
		t.Fatalf("ActiveSessions: got error %v, want nil", err)
	}
	if diff := cmp.Diff([]user.Session{older, newer}, got); diff != "" {
		t.Errorf("ActiveSessions: mismatch (-want +got):\n%s", diff)
	}
	if got, err := repo.Session(t.Context(), ada.ID, revoked.ID); err != nil || !got.RevokedAt.Equal(t0) {
		t.Errorf("Session of a revoked session: revoked at %v, error %v; want %v, nil", got.RevokedAt, err, t0)
	}
	// Later, the newer one has expired too.
	got, err = repo.ActiveSessions(t.Context(), ada.ID, newer.ExpiresAt)
	if err != nil || len(got) != 0 {
		t.Errorf("ActiveSessions at the sessions' expiry: got %d sessions, error %v; want none", len(got), err)
	}
	none, err := repo.ActiveSessions(t.Context(), uuid.Must(uuid.NewV7()), t0)
	if err != nil || len(none) != 0 {
		t.Errorf("ActiveSessions of an unknown user: got %v, %v; want none, nil", none, err)
	}
}

func testRevokeSessions(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ada, bob := create(t, repo, NewUser(1)), create(t, repo, NewUser(2))
	t0 := now()
	a1, _ := startSession(t, repo, ada, t0)
	a2, _ := startSession(t, repo, ada, t0.Add(time.Second))
	a3, _ := startSession(t, repo, ada, t0.Add(2*time.Second))
	b1, _ := startSession(t, repo, bob, t0)
	if err := repo.RevokeSessions(t.Context(), ada.ID, a2.ID, t0); err != nil {
		t.Fatalf("RevokeSessions except one: got error %v, want nil", err)
	}
	wantActive := func(who user.User, want ...user.Session) {
		t.Helper()
		got, err := repo.ActiveSessions(t.Context(), who.ID, t0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ActiveSessions of %s: mismatch (-want +got):\n%s", who.Username, diff)
		}
	}
	wantActive(ada, a2)
	wantActive(bob, b1)
	if got, _ := repo.Session(t.Context(), ada.ID, a1.ID); !got.RevokedAt.Equal(t0) {
		t.Errorf("revoked session a1: revoked at %v, want %v", got.RevokedAt, t0)
	}
	if got, _ := repo.Session(t.Context(), ada.ID, a3.ID); !got.RevokedAt.Equal(t0) {
		t.Errorf("revoked session a3: revoked at %v, want %v", got.RevokedAt, t0)
	}
	if err := repo.RevokeSessions(t.Context(), ada.ID, uuid.Nil, t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeSessions: got error %v, want nil", err)
	}
	wantActive(ada)
	wantActive(bob, b1)
	// An earlier revocation keeps its time.
	if got, _ := repo.Session(t.Context(), ada.ID, a1.ID); !got.RevokedAt.Equal(t0) {
		t.Errorf("session revoked twice: revoked at %v, want the first time %v", got.RevokedAt, t0)
	}
}

func testDeleteRemovesSessions(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ada, bob := create(t, repo, NewUser(1)), create(t, repo, NewUser(2))
	s, rt := startSession(t, repo, ada, now())
	kept, keptT := startSession(t, repo, bob, now())
	if err := repo.Delete(t.Context(), ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Session(t.Context(), ada.ID, s.ID); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("Session after Delete: got error %v, want %v", err, user.ErrSessionNotFound)
	}
	if _, _, err := repo.RefreshToken(t.Context(), rt.Hash); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("RefreshToken after Delete: got error %v, want %v", err, user.ErrSessionNotFound)
	}
	if _, _, err := repo.RefreshToken(t.Context(), keptT.Hash); err != nil {
		t.Errorf("another user's token after Delete: got error %v, want nil", err)
	}
	if _, err := repo.Session(t.Context(), bob.ID, kept.ID); err != nil {
		t.Errorf("another user's session after Delete: got error %v, want nil", err)
	}
}

func testDeactivate(t *testing.T, newRepo func(*testing.T) user.Repository) {
	repo := newRepo(t)
	ada, bob := create(t, repo, NewUser(1)), create(t, repo, NewUser(2))
	if err := repo.Deactivate(t.Context(), ada.ID); err != nil {
		t.Fatalf("Deactivate: got error %v, want nil", err)
	}
	if got := byID(t, repo, ada.ID); got.IsActive {
		t.Errorf("ByID after Deactivate: active, want inactive")
	}
	if got := byID(t, repo, bob.ID); !got.IsActive {
		t.Errorf("another user after Deactivate: inactive, want active")
	}
	if err := repo.Deactivate(t.Context(), uuid.Must(uuid.NewV7())); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Deactivate of an unknown user: got error %v, want %v", err, user.ErrNotFound)
	}
}
