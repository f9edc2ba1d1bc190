package usertest

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/user"
)

// NewAccountToken returns an unused token of u for purpose, sent to
// u.Email, created at now and valid for an hour, with a random hash; it is
// not stored.
func NewAccountToken(u user.User, purpose user.TokenPurpose, now time.Time) user.AccountToken {
	h := sha256.Sum256([]byte(rand.Text()))
	now = now.UTC().Truncate(time.Microsecond)
	return user.AccountToken{Hash: h[:], UserID: u.ID, Purpose: purpose, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// storeToken stores a new token of u or stops the test.
func storeToken(t *testing.T, tokens user.AccountTokens, u user.User, purpose user.TokenPurpose, now time.Time) user.AccountToken {
	t.Helper()
	tok := NewAccountToken(u, purpose, now)
	if err := tokens.Create(t.Context(), tok); err != nil {
		t.Fatalf("Create(%s token): got error %v, want nil", purpose, err)
	}
	return tok
}

func testAccountTokenRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	for _, purpose := range []user.TokenPurpose{user.PurposeVerifyEmail, user.PurposeResetPassword} {
		tok := storeToken(t, st.AccountTokens, u, purpose, now())
		got, err := st.AccountTokens.ByHash(t.Context(), tok.Hash)
		if err != nil {
			t.Fatalf("ByHash(%s): got error %v, want nil", purpose, err)
		}
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("ByHash(%s): mismatch (-want +got):\n%s", purpose, diff)
		}
	}
	unknown := NewAccountToken(u, user.PurposeVerifyEmail, now())
	if _, err := st.AccountTokens.ByHash(t.Context(), unknown.Hash); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ByHash(unknown hash): got %v, want ErrInvalidToken", err)
	}
	ghost := NewAccountToken(NewUser(2), user.PurposeResetPassword, now())
	if err := st.AccountTokens.Create(t.Context(), ghost); err == nil {
		t.Error("Create of a token of a missing user: got nil error, want one")
	}
}

func testUseVerifyEmail(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	reset := storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at)
	if _, err := st.AccountTokens.UseVerifyEmail(t.Context(), reset.Hash, at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseVerifyEmail(a reset token): got %v, want ErrInvalidToken", err)
	}
	expired := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at.Add(-2*time.Hour))
	if _, err := st.AccountTokens.UseVerifyEmail(t.Context(), expired.Hash, at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseVerifyEmail(expired): got %v, want ErrInvalidToken", err)
	}
	if byID(t, st.Users, u.ID).EmailVerified {
		t.Fatal("verified by a refused token")
	}
	tok := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at)
	// The last instant before expiry still works.
	got, err := st.AccountTokens.UseVerifyEmail(t.Context(), tok.Hash, tok.ExpiresAt.Add(-time.Microsecond))
	if err != nil || !got.EmailVerified || got.ID != u.ID || got.Email != u.Email {
		t.Fatalf("UseVerifyEmail = %+v, %v; want user %s verified", got, err, u.ID)
	}
	if !byID(t, st.Users, u.ID).EmailVerified {
		t.Error("ByID after verifying: not verified")
	}
	if _, err := st.AccountTokens.UseVerifyEmail(t.Context(), tok.Hash, at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseVerifyEmail a second time: got %v, want ErrInvalidToken", err)
	}
	if stored, err := st.AccountTokens.ByHash(t.Context(), tok.Hash); err != nil || stored.UsedAt.IsZero() {
		t.Errorf("ByHash after use = used at %v, %v; want a use time", stored.UsedAt, err)
	}
	if _, err := st.AccountTokens.UseResetPassword(t.Context(), tok.Hash, "h", at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseResetPassword(a verification token): got %v, want ErrInvalidToken", err)
	}
}

func testVerifyAfterEmailChange(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	caseOnly := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at)
	old := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at)
	upper := "USER1@EXAMPLE.COM"
	if _, err := st.Users.Update(t.Context(), u.ID, user.Patch{Email: &upper}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.AccountTokens.UseVerifyEmail(t.Context(), caseOnly.Hash, at); err != nil || !got.EmailVerified {
		t.Fatalf("UseVerifyEmail after a change of letter case = verified %v, %v; want verified", got.EmailVerified, err)
	}
	other := "someone.else@example.com"
	if _, err := st.Users.Update(t.Context(), u.ID, user.Patch{Email: &other}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccountTokens.UseVerifyEmail(t.Context(), old.Hash, at); !errors.Is(err, user.ErrEmailChanged) {
		t.Errorf("UseVerifyEmail(sent to the old address): got %v, want ErrEmailChanged", err)
	}
	if byID(t, st.Users, u.ID).EmailVerified {
		t.Error("a token sent to the old address verified the new one")
	}
	if _, err := st.AccountTokens.UseVerifyEmail(t.Context(), old.Hash, at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("the old address's token again: got %v, want ErrInvalidToken (used up)", err)
	}
}

func testUseResetPassword(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	bystander := create(t, st.Users, NewUser(2))
	at := now()
	first := storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at)
	second := storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at)
	verify := storeToken(t, st.AccountTokens, u, user.PurposeVerifyEmail, at)
	theirs := storeToken(t, st.AccountTokens, bystander, user.PurposeResetPassword, at)
	s1, _ := startSession(t, st.Sessions, u, at)
	s2, _ := startSession(t, st.Sessions, u, at)
	sb, _ := startSession(t, st.Sessions, bystander, at)
	expired := storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at.Add(-2*time.Hour))
	if _, err := st.AccountTokens.UseResetPassword(t.Context(), expired.Hash, "h", at); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseResetPassword(expired): got %v, want ErrInvalidToken", err)
	}

	done := at.Add(time.Minute)
	got, err := st.AccountTokens.UseResetPassword(t.Context(), first.Hash, "new-hash", done)
	if err != nil {
		t.Fatalf("UseResetPassword: got error %v, want nil", err)
	}
	if got.ID != u.ID || got.PasswordHash != "new-hash" || got.TokenVersion != u.TokenVersion+1 {
		t.Errorf("UseResetPassword = %+v; want user %s with the new hash and token version %d", got, u.ID, u.TokenVersion+1)
	}
	if stored := byID(t, st.Users, u.ID); stored.PasswordHash != "new-hash" || stored.TokenVersion != u.TokenVersion+1 {
		t.Errorf("ByID after reset: hash %q version %d; want new-hash, %d", stored.PasswordHash, stored.TokenVersion, u.TokenVersion+1)
	}
	for name, tok := range map[string]user.AccountToken{"the used token": first, "another reset token": second} {
		if _, err := st.AccountTokens.UseResetPassword(t.Context(), tok.Hash, "again", done); !errors.Is(err, user.ErrInvalidToken) {
			t.Errorf("UseResetPassword(%s) after a reset: got %v, want ErrInvalidToken", name, err)
		}
	}
	if stored, err := st.AccountTokens.ByHash(t.Context(), verify.Hash); err != nil || !stored.UsedAt.IsZero() {
		t.Errorf("verification token after a reset = used at %v, %v; want unused", stored.UsedAt, err)
	}
	if stored, err := st.AccountTokens.ByHash(t.Context(), theirs.Hash); err != nil || !stored.UsedAt.IsZero() {
		t.Errorf("another user's reset token after a reset = used at %v, %v; want unused", stored.UsedAt, err)
	}
	for _, s := range []user.Session{s1, s2} {
		if got := sessionOf(t, st.Sessions, u.ID, s.ID); !got.RevokedAt.Equal(done) {
			t.Errorf("session after a reset: revoked at %v, want %v", got.RevokedAt, done)
		}
	}
	if got := sessionOf(t, st.Sessions, bystander.ID, sb.ID); !got.RevokedAt.IsZero() {
		t.Errorf("another user's session after a reset: revoked at %v, want not revoked", got.RevokedAt)
	}
}

// testConcurrentTokenUse uses one token from several goroutines at once:
// exactly one may succeed.
func testConcurrentTokenUse(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	for _, purpose := range []user.TokenPurpose{user.PurposeVerifyEmail, user.PurposeResetPassword} {
		tok := storeToken(t, st.AccountTokens, u, purpose, at)
		const n = 8
		won, unknown := tokenUsesAtOnce(n, func(int) error {
			var err error
			if purpose == user.PurposeVerifyEmail {
				_, err = st.AccountTokens.UseVerifyEmail(t.Context(), tok.Hash, at)
			} else {
				_, err = st.AccountTokens.UseResetPassword(t.Context(), tok.Hash, "h", at)
			}
			return err
		})
		if won != 1 || len(unknown) > 0 {
			t.Errorf("%d concurrent uses of one %s token: %d succeeded, other errors %v; want exactly 1 and the rest ErrInvalidToken", n, purpose, won, unknown)
		}
	}
}

// tokenUsesAtOnce runs use(0) to use(n-1) at once and counts the calls
// that succeeded; unknown are the errors other than ErrInvalidToken, what
// a use that lost the race must answer.
func tokenUsesAtOnce(n int, use func(i int) error) (won int, unknown []error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = use(i)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, user.ErrInvalidToken):
			unknown = append(unknown, err)
		}
	}
	return won, unknown
}

// testConcurrentResetsWithTwoTokens uses two reset links of one account at
// once, rounds times: exactly one may set the password, and the other is
// ErrInvalidToken (the first used it up), never another error. On
// PostgreSQL each locked its own token, then waited for the other's (to
// use it up) while holding the account's row the other waited for: a
// deadlock, and a 500 for whoever lost it.
func testConcurrentResetsWithTwoTokens(t *testing.T, open newStores) {
	st := open(t)
	const rounds = 20
	for round := range rounds {
		u := create(t, st.Users, NewUser(round+1))
		at := now()
		toks := []user.AccountToken{
			storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at),
			storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, at),
		}
		won, unknown := tokenUsesAtOnce(len(toks), func(i int) error {
			_, err := st.AccountTokens.UseResetPassword(t.Context(), toks[i].Hash, "h", at)
			return err
		})
		if len(unknown) > 0 {
			t.Fatalf("round %d: two reset links used at once: got error %v, want nil or ErrInvalidToken", round, unknown[0])
		}
		if won != 1 {
			t.Fatalf("round %d: two reset links used at once: %d set the password, want 1", round, won)
		}
	}
}

func testDeleteRemovesAccountTokens(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	tok := storeToken(t, st.AccountTokens, u, user.PurposeResetPassword, now())
	if err := st.Users.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccountTokens.ByHash(t.Context(), tok.Hash); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("ByHash after deleting its user: got %v, want ErrInvalidToken", err)
	}
	if _, err := st.AccountTokens.UseResetPassword(t.Context(), tok.Hash, "h", now()); !errors.Is(err, user.ErrInvalidToken) {
		t.Errorf("UseResetPassword after deleting its user: got %v, want ErrInvalidToken", err)
	}
}
