package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// PreviousRelease are rows as the release before migration 00008 writes
// them, naming none of the columns 00008 adds (users.recovery_email,
// sessions.authenticated_at, account_tokens.token_version: all NULL): a
// user, a session of it with its first refresh token, and a reset token of
// it. During a blue/green switch, and after a rollback, that release keeps
// writing such rows on the new schema. A store's test inserts them with
// that release's statements and hands them to Check.
type PreviousRelease struct {
	User    user.User // as given to that release's Users.Create
	Session user.Session
	Refresh user.RefreshToken
	Reset   user.AccountToken
}

// NewPreviousRelease returns the rows, not stored: the session was created
// an hour ago, the token just now.
func NewPreviousRelease() PreviousRelease {
	u := usertest.NewUser(1)
	at := time.Now().UTC().Truncate(time.Microsecond)
	s, rt := usertest.NewSession(u.ID, at.Add(-time.Hour))
	s.AuthenticatedAt = time.Time{} // that release has no such column
	return PreviousRelease{User: u, Session: s, Refresh: rt, Reset: usertest.NewAccountToken(u, user.PurposeResetPassword, at)}
}

// Check checks that st, the stores of a database holding r's rows, reads
// them as the release before meant them (the trusted address is the email,
// the session was authenticated when it was created and may be refreshed
// by any client, the reset token is bound to no password), and that the writes of this release work on
// them.
func (r PreviousRelease) Check(t *testing.T, st user.Stores) {
	t.Helper()
	r.checkReads(t, st)
	r.checkWrites(t, st)
}

func (r PreviousRelease) checkReads(t *testing.T, st user.Stores) {
	t.Helper()
	ctx := t.Context()
	want := r.User
	want.IsActive, want.TrustedEmail = true, r.User.Email
	got, err := st.Users.ByEmail(ctx, r.User.Email)
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(user.User{}, "CreatedAt", "UpdatedAt")); err != nil || diff != "" {
		t.Errorf("ByEmail of the previous release's user: error %v, mismatch (-want +got):\n%s", err, diff)
	}
	listed, err := st.Users.List(ctx, user.ListQuery{Limit: 10})
	if err != nil || len(listed) != 1 || listed[0].TrustedEmail != r.User.Email {
		t.Errorf("List = %d users, error %v; want the one, trusted address %q", len(listed), err, r.User.Email)
	}
	wantSess := r.Session
	wantSess.AuthenticatedAt = r.Session.CreatedAt
	wantSess.AnyClient = true // no client_id either (migration 00032): any client refreshes it
	all, err := st.Sessions.All(ctx, r.User.ID, user.SessionPage{})
	if diff := cmp.Diff([]user.Session{wantSess}, all); err != nil || diff != "" {
		t.Errorf("All: error %v, mismatch (-want +got):\n%s", err, diff)
	}
	if _, s, err := st.Sessions.RefreshToken(ctx, r.Refresh.Hash); err != nil || !s.AuthenticatedAt.Equal(wantSess.CreatedAt) || !s.AnyClient {
		t.Errorf("RefreshToken: session authenticated at %v, of any client %t, error %v; want its creation %v, any client", s.AuthenticatedAt, s.AnyClient, err, wantSess.CreatedAt)
	}
	if _, s, err := st.Sessions.UserSession(ctx, r.User.ID, r.Session.ID); err != nil || !s.AuthenticatedAt.Equal(wantSess.CreatedAt) {
		t.Errorf("UserSession: authenticated at %v, error %v; want its creation %v", s.AuthenticatedAt, err, wantSess.CreatedAt)
	}
	wantTok := r.Reset
	wantTok.TokenVersion = user.Unbound
	tok, err := st.AccountTokens.ByHash(ctx, r.Reset.Hash)
	if diff := cmp.Diff(wantTok, tok); err != nil || diff != "" {
		t.Errorf("ByHash of the previous release's reset token: error %v, mismatch (-want +got):\n%s", err, diff)
	}
}

// checkWrites re-authenticates the session, changes the password (the
// reset token, bound to none, still resets) and the email (the old one
// becomes the trusted address).
func (r PreviousRelease) checkWrites(t *testing.T, st user.Stores) {
	t.Helper()
	ctx := t.Context()
	at := r.Reset.CreatedAt.Add(time.Minute)
	if err := st.Sessions.Reauthenticated(ctx, r.User.ID, r.Session.ID, at); err != nil {
		t.Errorf("Reauthenticated: got error %v, want nil", err)
	}
	if _, s, err := st.Sessions.UserSession(ctx, r.User.ID, r.Session.ID); err != nil || !s.AuthenticatedAt.Equal(at) {
		t.Errorf("UserSession after Reauthenticated: authenticated at %v, error %v; want %v", s.AuthenticatedAt, err, at)
	}
	if err := st.Users.SetPassword(ctx, r.User.ID, "changed"); err != nil {
		t.Fatal(err)
	}
	if u, err := st.AccountTokens.UseResetPassword(ctx, r.Reset.Hash, "reset", at); err != nil || u.PasswordHash != "reset" {
		t.Errorf("UseResetPassword(the previous release's token) = hash %q, %v; want %q, nil", u.PasswordHash, err, "reset")
	}
	moved, err := st.Users.Update(ctx, r.User.ID, user.Patch{Email: new("moved@example.com")})
	if err != nil || moved.Email != "moved@example.com" || moved.TrustedEmail != r.User.Email {
		t.Errorf("Update(email) = email %q, trusted %q, %v; want moved@example.com, %q, nil", moved.Email, moved.TrustedEmail, err, r.User.Email)
	}
}
