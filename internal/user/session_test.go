package user_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// TestLoginKeepsTheClient: the session remembers who logged in, with the
// user agent cut at a character boundary.
func TestLoginKeepsTheClient(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	ua := "x" + strings.Repeat("é", 200)
	ctx := user.WithClient(t.Context(), user.Client{UserAgent: ua, IP: "2001:db8::1"})
	tok, err := f.svc.Login(ctx, "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.repo.Session(t.Context(), u.ID, tok.SessionID)
	if err != nil {
		t.Fatalf("Session of the login: %v", err)
	}
	if want := "x" + strings.Repeat("é", 127); s.UserAgent != want || s.IP != "2001:db8::1" {
		t.Errorf("session client: %q (%d bytes), %q; want %d bytes, 2001:db8::1", s.UserAgent, len(s.UserAgent), s.IP, len(want))
	}
	got, sess, err := f.svc.AuthenticateSession(t.Context(), tok.Token)
	if err != nil || got.ID != u.ID || sess.ID != tok.SessionID {
		t.Errorf("AuthenticateSession = %v, %v, %v; want the user and the session", got.ID, sess.ID, err)
	}
}

// TestSessionStoreFailures: a failing database is the store's error (a 5xx),
// never a refusal (401/400) and never a success.
func TestSessionStoreFailures(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	f.repo.SetFail(errDown)
	ctx := context.Background()
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"Refresh", func() error { _, err := f.svc.Refresh(ctx, tok.RefreshToken); return err }},
		{"Logout", func() error { return f.svc.Logout(ctx, u.ID, tok.SessionID) }},
		{"LogoutAll", func() error { return f.svc.LogoutAll(ctx, u.ID) }},
		{"Sessions", func() error { _, err := f.svc.Sessions(ctx, u.ID); return err }},
		{"RevokeSession", func() error { return f.svc.RevokeSession(ctx, u.ID, tok.SessionID) }},
		{"Deactivate", func() error { return f.svc.Deactivate(ctx, u.ID) }},
	} {
		if err := tt.do(); !errors.Is(err, errDown) {
			t.Errorf("%s on a failing store: got error %v, want %v", tt.call, err, errDown)
		}
	}
	f.repo.SetFail(nil)
}

// TestRefreshStoreFailsMidway: failures after the token lookup (the user
// lookup, the rotation) are errors too, and leave the token usable.
func TestRefreshStoreFailsMidway(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	f.repo.SetAfterByID(func(user.User) { f.repo.SetFail(errDown) })
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, errDown) {
		t.Errorf("Refresh with the store failing after ByID: got error %v, want %v", err, errDown)
	}
	f.repo.SetAfterByID(nil)
	f.repo.SetFail(nil)
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Errorf("Refresh once the store is back: got error %v, want nil", err)
	}
}

// TestLogoutTwice: logging out a session already revoked is no error.
func TestLogoutTwice(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.svc.Logout(t.Context(), u.ID, tok.SessionID); err != nil {
			t.Errorf("Logout: got error %v, want nil", err)
		}
	}
	if _, err := f.svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Authenticate after Logout: got error %v, want %v", err, user.ErrUnauthenticated)
	}
	if err := f.svc.RevokeSession(t.Context(), u.ID, uuid.Must(uuid.NewV7())); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("RevokeSession of an unknown session: got error %v, want %v", err, user.ErrSessionNotFound)
	}
}

// TestChangePasswordRevokesEverySession: without a session to keep (the
// service's own API), every session ends.
func TestChangePasswordRevokesEverySession(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(t.Context(), u.ID, ada.Password, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("Refresh after ChangePassword: got error %v, want %v", err, user.ErrInvalidGrant)
	}
	if err := f.svc.Deactivate(t.Context(), uuid.Must(uuid.NewV7())); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Deactivate of an unknown user: got error %v, want %v", err, user.ErrNotFound)
	}
}

// TestReuseDetectedHook: a reuse past the grace revokes the session and is
// reported.
func TestReuseDetectedHook(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	var reported []user.Session
	svc := user.NewService(f.repo, f.hasher, f.tokens, user.WithClock(func() time.Time { return now }),
		user.WithReuseDetected(func(_ context.Context, s user.Session) { reported = append(reported, s) }))
	f.register(t, ada)
	tok, err := svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	now = now.Add(user.DefaultSessionPolicy.ReuseGrace + time.Second)
	if _, err := svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("reuse past the grace: got error %v, want %v", err, user.ErrInvalidGrant)
	}
	if len(reported) != 1 || reported[0].ID != tok.SessionID {
		t.Errorf("reported reuses: %v, want the session %s once", reported, tok.SessionID)
	}
	if _, err := svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Authenticate after reuse: got error %v, want %v", err, user.ErrUnauthenticated)
	}
}

// TestRefresh walks the service's refresh rules on a clock: rotation, the
// grace, expiry, the session's lifetime, and the account's state.
func TestRefresh(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	policy := user.SessionPolicy{RefreshTTL: time.Hour, MaxAge: 3 * time.Hour, ReuseGrace: 10 * time.Second}
	svc := user.NewService(f.repo, f.hasher, f.tokens, user.WithClock(func() time.Time { return now }), user.WithSessionPolicy(policy))
	u := f.register(t, ada)
	login := func() user.AccessToken {
		t.Helper()
		tok, err := svc.Login(t.Context(), "ada", ada.Password)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refresh := func(token string) (user.AccessToken, error) { return svc.Refresh(t.Context(), token) }
	wantInvalid := func(token, what string) {
		t.Helper()
		if _, err := refresh(token); !errors.Is(err, user.ErrInvalidGrant) {
			t.Errorf("Refresh(%s): got error %v, want %v", what, err, user.ErrInvalidGrant)
		}
	}
	wantInvalid("short", "a malformed token")
	wantInvalid(strings.Repeat("A", 43), "an unknown token")

	first := login()
	second, err := refresh(first.RefreshToken)
	if err != nil || second.SessionID != first.SessionID || second.RefreshToken == first.RefreshToken {
		t.Fatalf("Refresh: got %+v, %v; want a new refresh token of the same session", second, err)
	}
	now = now.Add(5 * time.Second)
	sibling, err := refresh(first.RefreshToken) // within the grace
	if err != nil || sibling.SessionID != first.SessionID {
		t.Errorf("Refresh within the grace: got %v, %v; want a pair of the same session", sibling.SessionID, err)
	}
	// Unused tokens expire after RefreshTTL.
	now = now.Add(time.Hour)
	wantInvalid(second.RefreshToken, "an expired token")
	// The session ends at MaxAge however often it is refreshed.
	tok := login()
	for range 3 {
		now = now.Add(55 * time.Minute)
		next, err := refresh(tok.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh within the session's lifetime: %v", err)
		}
		tok = next
	}
	now = now.Add(20 * time.Minute) // 3 h 5 min after the login
	wantInvalid(tok.RefreshToken, "a token of an expired session")
	if _, err := svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Authenticate with an expired session: got error %v, want %v", err, user.ErrUnauthenticated)
	}

	// An inactive account loses every session at its next refresh.
	a, b := login(), login()
	f.repo.SetActive(u.ID, false)
	wantInvalid(a.RefreshToken, "a token of an inactive user")
	f.repo.SetActive(u.ID, true)
	wantInvalid(b.RefreshToken, "another session of a user found inactive")
	// A deleted account's tokens are gone with it.
	c := login()
	if err := svc.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	wantInvalid(c.RefreshToken, "a token of a deleted user")
}

// TestChangePasswordKeeping: the session that changes the password stays
// and refreshes into the new token version; the others end.
func TestChangePasswordKeeping(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	here, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	there, err := f.svc.Login(t.Context(), "ada", ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePasswordKeeping(t.Context(), u.ID, here.SessionID, ada.Password, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(t.Context(), here.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("the old access token: got error %v, want %v", err, user.ErrUnauthenticated)
	}
	if _, err := f.svc.Refresh(t.Context(), there.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("another session's refresh: got error %v, want %v", err, user.ErrInvalidGrant)
	}
	next, err := f.svc.Refresh(t.Context(), here.RefreshToken)
	if err != nil {
		t.Fatalf("refresh of the kept session: %v", err)
	}
	if _, err := f.svc.Authenticate(t.Context(), next.Token); err != nil {
		t.Errorf("the refreshed access token: got error %v, want nil", err)
	}
}
