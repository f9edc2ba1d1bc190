package usertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The tests of user.AccountTokens for account recovery: the trusted
// address a verification makes, reset tokens bound to the password they
// replace, and using up every token of an account.

// usedAt returns when the stored token of hash was used (zero: unused), or
// stops the test.
func usedAt(t *testing.T, tokens user.AccountTokens, hash []byte) time.Time {
	t.Helper()
	got, err := tokens.ByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("ByHash: got error %v, want nil", err)
	}
	return got.UsedAt
}

// testVerifyTrusts: a verification token makes the address it verifies
// the trusted one, in place of the one kept through the email change.
func testVerifyTrusts(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	moved, err := st.Users.Update(t.Context(), u.ID, user.Patch{Email: new("moved@example.com")})
	if err != nil || moved.TrustedEmail != u.Email {
		t.Fatalf("Update(email) = trusted %q, %v; want the registration email %q, nil", moved.TrustedEmail, err, u.Email)
	}
	tok := storeToken(t, st.AccountTokens, moved, user.PurposeVerifyEmail, now())
	got, err := st.AccountTokens.UseVerifyEmail(t.Context(), tok.Hash, now())
	if err != nil {
		t.Fatalf("UseVerifyEmail: got error %v, want nil", err)
	}
	for call, r := range map[string]user.User{"UseVerifyEmail": got, "ByID": byID(t, st.Users, u.ID)} {
		if !r.EmailVerified || r.TrustedEmail != "moved@example.com" {
			t.Errorf("%s after verifying moved@example.com = verified %v, trusted %q; want true, moved@example.com", call, r.EmailVerified, r.TrustedEmail)
		}
	}
}

// testTokenVersionRoundTrip: a token's TokenVersion comes back as stored,
// 0 and Unbound included.
func testTokenVersionRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	for _, v := range []int64{0, 3, user.Unbound} {
		tok := NewAccountToken(u, user.PurposeResetPassword, now())
		tok.TokenVersion = v
		if err := st.AccountTokens.Create(t.Context(), tok); err != nil {
			t.Fatalf("Create(token version %d): got error %v, want nil", v, err)
		}
		got, err := st.AccountTokens.ByHash(t.Context(), tok.Hash)
		if err != nil {
			t.Fatalf("ByHash(token version %d): got error %v, want nil", v, err)
		}
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("ByHash(token version %d): mismatch (-want +got):\n%s", v, diff)
		}
	}
}

// storeBound stores a reset token of u bound to token version v.
func storeBound(t *testing.T, tokens user.AccountTokens, u user.User, v int64, at time.Time) user.AccountToken {
	t.Helper()
	tok := NewAccountToken(u, user.PurposeResetPassword, at)
	tok.TokenVersion = v
	if err := tokens.Create(t.Context(), tok); err != nil {
		t.Fatalf("Create(reset token, version %d): got error %v, want nil", v, err)
	}
	return tok
}

// testResetBoundToPassword: UseResetPassword refuses a token bound to
// another token version than the user's (the password changed since it
// was mailed), changing nothing; a token bound to the current version, or
// to none (Unbound), resets. Verification tokens are bound to nothing.
func testResetBoundToPassword(t *testing.T, open newStores) {
	st := open(t)
	ctx := t.Context()
	u := create(t, st.Users, NewUser(1))
	at := now()
	stale := storeBound(t, st.AccountTokens, u, u.TokenVersion, at)
	verify := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at)
	sess, _ := startSession(t, st.Sessions, u, at)
	if err := st.Users.SetPassword(ctx, u.ID, "changed"); err != nil {
		t.Fatal(err)
	}
	future := storeBound(t, st.AccountTokens, u, u.TokenVersion+7, at)
	for name, tok := range map[string]user.AccountToken{"mailed before a password change": stale, "of a later version": future} {
		if _, err := st.AccountTokens.UseResetPassword(ctx, tok.Hash, "reset", at); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("UseResetPassword(a token %s): got %v, want ErrInvalidToken", name, err)
		}
		if got := usedAt(t, st.AccountTokens, tok.Hash); !got.IsZero() {
			t.Errorf("a refused token %s: used at %v, want unused", name, got)
		}
	}
	if got := byID(t, st.Users, u.ID); got.PasswordHash != "changed" || got.TokenVersion != u.TokenVersion+1 {
		t.Errorf("after refused resets: hash %q, version %d; want %q, %d", got.PasswordHash, got.TokenVersion, "changed", u.TokenVersion+1)
	}
	if got := sessionOf(t, st.Sessions, u.ID, sess.ID); !got.RevokedAt.IsZero() {
		t.Errorf("session after refused resets: revoked at %v, want not revoked", got.RevokedAt)
	}
	if got, err := st.AccountTokens.UseVerifyEmail(ctx, verify.Hash, at); err != nil || !got.EmailVerified {
		t.Errorf("UseVerifyEmail after a password change = verified %v, %v; want verified, nil", got.EmailVerified, err)
	}

	current := storeBound(t, st.AccountTokens, u, u.TokenVersion+1, at)
	if got, err := st.AccountTokens.UseResetPassword(ctx, current.Hash, "reset", at); err != nil || got.TokenVersion != u.TokenVersion+2 {
		t.Fatalf("UseResetPassword(a token of the current version) = version %d, %v; want %d, nil", got.TokenVersion, err, u.TokenVersion+2)
	}
	unbound := storeBound(t, st.AccountTokens, u, user.Unbound, at)
	if err := st.Users.SetPassword(ctx, u.ID, "changed again"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.AccountTokens.UseResetPassword(ctx, unbound.Hash, "reset again", at); err != nil || got.PasswordHash != "reset again" {
		t.Errorf("UseResetPassword(an Unbound token after a password change) = hash %q, %v; want %q, nil", got.PasswordHash, err, "reset again")
	}
}

// testUseAllTokens: UseAll uses up the unused tokens of one user, of one
// purpose or of every purpose, and keeps the time of those used before.
func testUseAllTokens(t *testing.T, open newStores) {
	st := open(t)
	ctx, tokens := t.Context(), st.AccountTokens
	u, other := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	verify := storeToken(t, tokens, u, user.PurposeVerifyEmail, t0)
	early := storeToken(t, tokens, u, user.PurposeVerifyEmail, t0)
	if _, err := tokens.UseVerifyEmail(ctx, early.Hash, t0); err != nil {
		t.Fatal(err)
	}
	r1, r2 := storeToken(t, tokens, u, user.PurposeResetPassword, t0), storeToken(t, tokens, u, user.PurposeResetPassword, t0)
	theirs := storeToken(t, tokens, other, user.PurposeResetPassword, t0)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	check := func(step string, want map[string]time.Time) {
		t.Helper()
		for name, tok := range map[string]user.AccountToken{"verify": verify, "early": early, "r1": r1, "r2": r2, "theirs": theirs} {
			if got := usedAt(t, tokens, tok.Hash); !got.Equal(want[name]) {
				t.Errorf("after %s: token %s used at %v, want %v", step, name, got, want[name])
			}
		}
	}
	if err := tokens.UseAll(ctx, u.ID, user.PurposeResetPassword, t1); err != nil {
		t.Fatalf("UseAll(reset tokens): got error %v, want nil", err)
	}
	check("UseAll(reset tokens)", map[string]time.Time{"early": t0, "r1": t1, "r2": t1})
	if err := tokens.UseAll(ctx, u.ID, "", t2); err != nil {
		t.Fatalf("UseAll(every purpose): got error %v, want nil", err)
	}
	check("UseAll(every purpose)", map[string]time.Time{"verify": t2, "early": t0, "r1": t1, "r2": t1})
	if _, err := tokens.UseResetPassword(ctx, r1.Hash, "h", t2); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseResetPassword of a token UseAll used up: got %v, want ErrInvalidToken", err)
	}
	if err := tokens.UseAll(ctx, uuid.Must(uuid.NewV7()), "", t2); err != nil {
		t.Errorf("UseAll of an unknown user: got error %v, want nil", err)
	}
}

// testPendingTokens: Pending lists the account's own tokens that still
// work at now, oldest first, as stored (the export says which mailed
// links are live); used, expired and other accounts' tokens are left out.
func testPendingTokens(t *testing.T, open newStores) {
	st := open(t)
	ctx, tokens := t.Context(), st.AccountTokens
	u, other := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	t0 := now()
	verify := storeToken(t, tokens, u, user.PurposeVerifyEmail, t0.Add(-time.Minute))
	reset := NewAccountToken(u, user.PurposeResetPassword, t0)
	reset.TokenVersion = 3
	if err := tokens.Create(ctx, reset); err != nil {
		t.Fatal(err)
	}
	storeToken(t, tokens, u, user.PurposeResetPassword, t0.Add(-2*time.Hour)) // expired at t0
	used := storeToken(t, tokens, u, user.PurposeVerifyEmail, t0)
	if _, err := tokens.UseVerifyEmail(ctx, used.Hash, t0); err != nil {
		t.Fatal(err)
	}
	storeToken(t, tokens, other, user.PurposeResetPassword, t0)

	got, err := tokens.Pending(ctx, u.ID, t0)
	if err != nil {
		t.Fatalf("Pending: got error %v, want nil", err)
	}
	if diff := cmp.Diff([]user.AccountToken{verify, reset}, got); diff != "" {
		t.Errorf("Pending: mismatch (-want +got):\n%s", diff)
	}
	// The instant a token expires, it is no longer pending.
	got, err = tokens.Pending(ctx, u.ID, verify.ExpiresAt)
	if err != nil || len(got) != 1 || string(got[0].Hash) != string(reset.Hash) {
		t.Errorf("Pending at the verification token's expiry = %d tokens, %v; want the reset token only", len(got), err)
	}
	if got, err := tokens.Pending(ctx, uuid.Must(uuid.NewV7()), t0); err != nil || len(got) != 0 {
		t.Errorf("Pending of an unknown user = %v, %v; want none", got, err)
	}
}
