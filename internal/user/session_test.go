package user_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestLoginKeepsTheClient: the session remembers who logged in, with the
// user agent cut at a character boundary.
func TestLoginKeepsTheClient(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	ua := "x" + strings.Repeat("é", 200)
	ctx := user.WithClient(t.Context(), user.Client{UserAgent: ua, IP: "2001:db8::1"})
	tok, err := f.svc.Login(ctx, "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.stores.Sessions.All(t.Context(), u.ID, user.SessionPage{})
	if err != nil || len(all) != 1 || all[0].ID != tok.SessionID {
		t.Fatalf("sessions after the login: %+v, %v; want its one session %s", all, err, tok.SessionID)
	}
	if s, want := all[0], "x"+strings.Repeat("é", 127); s.UserAgent != want || s.IP != "2001:db8::1" {
		t.Errorf("session client: %q (%d bytes), %q; want %d bytes, 2001:db8::1", s.UserAgent, len(s.UserAgent), s.IP, len(want))
	}
	got, sess, err := f.svc.Authenticate(t.Context(), tok.Token)
	if err != nil || got.ID != u.ID || sess.ID != tok.SessionID {
		t.Errorf("Authenticate = %v, %v, %v; want the user and the session", got.ID, sess.ID, err)
	}
}

// TestSessionStoreFailures: a failing database is the store's error (a 5xx),
// never a refusal (401/400) and never a success.
func TestSessionStoreFailures(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	f.mem.SetFail(errDown)
	ctx := context.Background()
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"Refresh", func() error { _, err := f.svc.Refresh(ctx, tok.RefreshToken); return err }},
		{"Logout", func() error { return f.svc.Logout(ctx, u.ID, tok.SessionID) }},
		{"LogoutAll", func() error { return f.svc.LogoutAll(ctx, u.ID) }},
		{"Sessions", func() error { _, _, err := f.svc.Sessions(ctx, u.ID, nil, 0); return err }},
		{"RevokeSession", func() error { return f.svc.RevokeSession(ctx, u.ID, tok.SessionID) }},
		{"AdminUpdate deactivating", func() error {
			_, err := f.svc.AdminUpdate(ctx, recently(actingAdmin), u.ID, user.Patch{IsActive: new(false)})
			return err
		}},
	} {
		if err := tt.do(); !errors.Is(err, errDown) {
			t.Errorf("%s on a failing store: got error %v, want %v", tt.call, err, errDown)
		}
	}
	f.mem.SetFail(nil)
}

// TestRefreshStoreFailsMidway: failures after the token lookup (the user
// lookup, the rotation) are errors too, and leave the token usable.
func TestRefreshStoreFailsMidway(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	f.mem.SetAfterByID(func(user.User) { f.mem.SetFail(errDown) })
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, errDown) {
		t.Errorf("Refresh with the store failing after ByID: got error %v, want %v", err, errDown)
	}
	f.mem.SetAfterByID(nil)
	f.mem.SetFail(nil)
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Errorf("Refresh once the store is back: got error %v, want nil", err)
	}
}

// TestLogoutTwice: logging out a session already revoked is no error.
func TestLogoutTwice(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.svc.Logout(t.Context(), u.ID, tok.SessionID); err != nil {
			t.Errorf("Logout: got error %v, want nil", err)
		}
	}
	if _, _, err := f.svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
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
	tok, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, uuid.Nil), ada.Password, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("Refresh after ChangePassword: got error %v, want %v", err, user.ErrInvalidGrant)
	}
	if _, err := f.svc.AdminUpdate(t.Context(), recently(actingAdmin), uuid.Must(uuid.NewV7()), user.Patch{IsActive: new(false)}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("deactivating an unknown user: got error %v, want %v", err, user.ErrNotFound)
	}
}

// TestReuseDetectedIsLogged: a reuse past the grace revokes the session and
// is logged, for an alert.
func TestReuseDetectedIsLogged(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	d := f.deps()
	d.Now = func() time.Time { return now }
	svc := user.NewService(d, user.Policy{})
	u := f.register(t, ada)
	tok, err := svc.Login(t.Context(), "ada", ada.Password, "")
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
	reported := f.log.records(t, logReuseRevoke)
	if len(reported) != 1 || reported[0]["level"] != "WARN" || reported[0]["session_id"] != tok.SessionID.String() ||
		reported[0]["user_id"] != u.ID.String() {
		t.Errorf("logged reuses: %v, want one warning naming the session %s of %s", reported, tok.SessionID, u.ID)
	}
	if _, _, err := svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Authenticate after reuse: got error %v, want %v", err, user.ErrUnauthenticated)
	}
}

// TestRefresh walks the service's refresh rules on a clock: rotation, the
// grace, expiry, the session's lifetime, and the account's state.
func TestRefresh(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	policy := user.SessionPolicy{RefreshTTL: time.Hour, MaxAge: 3 * time.Hour, ReuseGrace: 10 * time.Second}
	d := f.deps()
	d.Now = func() time.Time { return now }
	svc := user.NewService(d, user.Policy{Sessions: policy})
	u := f.register(t, ada)
	login := func() user.AccessToken {
		t.Helper()
		tok, err := svc.Login(t.Context(), "ada", ada.Password, "")
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
	if _, _, err := svc.Authenticate(t.Context(), tok.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Authenticate with an expired session: got error %v, want %v", err, user.ErrUnauthenticated)
	}

	// An inactive account loses every session at its next refresh.
	a, b := login(), login()
	f.mem.SetActive(u.ID, false)
	wantInvalid(a.RefreshToken, "a token of an inactive user")
	f.mem.SetActive(u.ID, true)
	wantInvalid(b.RefreshToken, "another session of a user found inactive")
	// A deleted account's tokens are gone with it.
	c := login()
	if err := svc.Delete(t.Context(), signedIn(u.ID, uuid.Nil)); err != nil {
		t.Fatal(err)
	}
	wantInvalid(c.RefreshToken, "a token of a deleted user")
}

// TestChangePasswordKeeping: the session that changes the password stays
// and refreshes into the new token version; the others end.
func TestChangePasswordKeeping(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	here, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	there, err := f.svc.Login(t.Context(), "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(t.Context(), signedIn(u.ID, here.SessionID), ada.Password, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Authenticate(t.Context(), here.Token); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("the old access token: got error %v, want %v", err, user.ErrUnauthenticated)
	}
	if _, err := f.svc.Refresh(t.Context(), there.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Errorf("another session's refresh: got error %v, want %v", err, user.ErrInvalidGrant)
	}
	next, err := f.svc.Refresh(t.Context(), here.RefreshToken)
	if err != nil {
		t.Fatalf("refresh of the kept session: %v", err)
	}
	if _, _, err := f.svc.Authenticate(t.Context(), next.Token); err != nil {
		t.Errorf("the refreshed access token: got error %v, want nil", err)
	}
}

// TestPolicyDefaults: a policy's zero lifetimes are the defaults, field by
// field, and a service needs no logger or clock to be given.
func TestPolicyDefaults(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	for _, tt := range []struct {
		name            string
		policy          user.SessionPolicy
		refresh, maxAge time.Duration
	}{
		{"zero", user.SessionPolicy{}, user.DefaultSessionPolicy.RefreshTTL, user.DefaultSessionPolicy.MaxAge},
		{"refresh set", user.SessionPolicy{RefreshTTL: time.Hour}, time.Hour, user.DefaultSessionPolicy.MaxAge},
		// A refresh token never outlives its session.
		{"max age set", user.SessionPolicy{MaxAge: 2 * time.Hour}, 2 * time.Hour, 2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := f.deps()
			d.Log, d.Now = nil, nil
			svc := user.NewService(d, user.Policy{Sessions: tt.policy})
			tok, err := svc.Login(t.Context(), "ada", ada.Password, "")
			if err != nil {
				t.Fatal(err)
			}
			hash := sha256.Sum256([]byte(tok.RefreshToken))
			rt, sess, err := f.stores.Sessions.RefreshToken(t.Context(), hash[:])
			if err != nil {
				t.Fatalf("the login's refresh token: %v", err)
			}
			if got := rt.ExpiresAt.Sub(rt.CreatedAt); got != tt.refresh {
				t.Errorf("refresh token lifetime = %s, want %s", got, tt.refresh)
			}
			if got := sess.ExpiresAt.Sub(sess.CreatedAt); got != tt.maxAge {
				t.Errorf("session lifetime = %s, want %s", got, tt.maxAge)
			}
			if sess.CreatedAt.After(time.Now()) || time.Since(sess.CreatedAt) > time.Minute {
				t.Errorf("session created at %s, want the wall clock's now", sess.CreatedAt)
			}
		})
	}
	// Without a logger, what would be logged is dropped, and the request
	// still succeeds.
	d := f.deps()
	d.Log = nil
	d.Stores = usertest.Wrap(d.Stores, func(s user.Stores) user.Stores { s.Audit = failingLog{s.Audit}; return s })
	if err := user.NewService(d, user.Policy{}).LogoutAll(t.Context(), u.ID); err != nil {
		t.Errorf("LogoutAll with a failing audit log and no logger: %v, want success", err)
	}
}

// TestRefreshByItsClientOnly: a session keeps the client_id its login
// named ("" for none), and only that client refreshes it; a refusal
// changes nothing (the token is neither used up nor taken for a reuse).
func TestRefreshByItsClientOnly(t *testing.T) {
	f := newFixture(t)
	f.register(t, ada)
	as := func(client string) context.Context { return user.WithClientID(t.Context(), client) }
	for _, tt := range []struct{ own, other string }{{"app-a", "app-b"}, {"app-a", ""}, {"", "app-a"}} {
		tok, err := f.svc.Login(as(tt.own), "ada", ada.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := f.svc.Refresh(as(tt.other), tok.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
				t.Errorf("a token of %q refreshed by %q: got error %v, want %v", tt.own, tt.other, err, user.ErrInvalidGrant)
			}
		}
		next, err := f.svc.Refresh(as(tt.own), tok.RefreshToken)
		if err != nil || next.SessionID != tok.SessionID {
			t.Errorf("a token of %q refreshed by it after another tried: %v, %v; want the same session", tt.own, next.SessionID, err)
		}
	}
}

// TestRefreshOfASessionOfUnknownClient: a session stored before sessions
// kept their client (AnyClient: migration 00032, or the release before
// it during a rolling upgrade) is refreshed by any client, as before, and
// so is the chain of its successors.
func TestRefreshOfASessionOfUnknownClient(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, ada)
	token := strings.Repeat("L", 43) // a refresh token's length
	sess, rt := usertest.NewSession(u.ID, time.Now())
	sess.AnyClient, sess.ClientID = true, ""
	h := sha256.Sum256([]byte(token))
	rt.Hash = h[:]
	if err := f.stores.Sessions.Create(t.Context(), sess, rt); err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"app-a", "app-b", ""} {
		next, err := f.svc.Refresh(user.WithClientID(t.Context(), client), token)
		if err != nil || next.SessionID != sess.ID {
			t.Fatalf("a session of an unknown client refreshed by %q: %v, %v; want the session", client, next.SessionID, err)
		}
		token = next.RefreshToken
	}
}
