package usertest

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The Factors group: a TOTP factor is enrolled, replaced while
// unconfirmed and kept once confirmed; a time step is accepted once, by
// exactly one of concurrent uses; recovery codes are used once each;
// deleting the user deletes its factors and challenges. MFAChallenges: a
// challenge is used once, before it expires. Sessions keep their
// assurance.

// randomHash is a random 32-byte hash.
func randomHash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

func testTOTPRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	f := st.Factors
	if _, err := f.TOTP(t.Context(), u.ID); !errors.Is(err, user.ErrFactorNotFound) {
		t.Fatalf("TOTP before enrolling: got %v, want ErrFactorNotFound", err)
	}
	first := user.TOTPFactor{UserID: u.ID, Secret: []byte("sealed one"), CreatedAt: now()}
	if err := f.PutTOTP(t.Context(), first); err != nil {
		t.Fatalf("PutTOTP: %v", err)
	}
	second := user.TOTPFactor{UserID: u.ID, Secret: []byte("sealed two"), CreatedAt: now().Add(time.Second)}
	if err := f.PutTOTP(t.Context(), second); err != nil {
		t.Fatalf("PutTOTP over an unconfirmed factor: got %v, want nil", err)
	}
	got, err := f.TOTP(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(second, got); diff != "" {
		t.Errorf("TOTP: mismatch (-want +got):\n%s", diff)
	}
	at := now().Add(time.Minute)
	if err := f.UseTOTP(t.Context(), got, 100, at); err != nil {
		t.Fatalf("UseTOTP: %v", err)
	}
	for _, step := range []int64{100, 99} {
		if err := f.UseTOTP(t.Context(), got, step, at); !errors.Is(err, user.ErrCodeUsed) {
			t.Errorf("UseTOTP(step %d) after step 100: got %v, want ErrCodeUsed", step, err)
		}
	}
	if err := f.UseTOTP(t.Context(), got, 101, at.Add(time.Minute)); err != nil {
		t.Errorf("UseTOTP(next step): got %v, want nil", err)
	}
	got, err = f.TOTP(t.Context(), u.ID)
	if err != nil || !got.ConfirmedAt.Equal(at) || got.LastStep != 101 {
		t.Errorf("TOTP after use: got confirmed %v, last step %d, %v; want %v, 101", got.ConfirmedAt, got.LastStep, err, at)
	}
	if err := f.PutTOTP(t.Context(), first); !errors.Is(err, user.ErrFactorExists) {
		t.Errorf("PutTOTP over a confirmed factor: got %v, want ErrFactorExists", err)
	}
	if err := f.DeleteTOTP(t.Context(), u.ID); err != nil {
		t.Fatalf("DeleteTOTP: %v", err)
	}
	if err := f.DeleteTOTP(t.Context(), u.ID); !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("DeleteTOTP again: got %v, want ErrFactorNotFound", err)
	}
	if err := f.UseTOTP(t.Context(), second, 200, at); !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("UseTOTP without a factor: got %v, want ErrFactorNotFound", err)
	}
	ghost := user.TOTPFactor{UserID: uuid.Must(uuid.NewV7()), Secret: []byte("x"), CreatedAt: now()}
	if err := f.PutTOTP(t.Context(), ghost); err == nil {
		t.Errorf("PutTOTP of a missing user: got nil error, want one")
	}
}

// A code checked against a factor that an enrolment replaced meanwhile
// confirms nothing: UseTOTP uses the factor it is given, or none.
func testUseReplacedTOTP(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	f := st.Factors
	if err := f.PutTOTP(t.Context(), user.TOTPFactor{UserID: u.ID, Secret: []byte("sealed one"), CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	checked, err := f.TOTP(t.Context(), u.ID) // what a confirmation checks its code against
	if err != nil {
		t.Fatal(err)
	}
	newer := user.TOTPFactor{UserID: u.ID, Secret: []byte("sealed two"), CreatedAt: checked.CreatedAt}
	if err := f.PutTOTP(t.Context(), newer); err != nil {
		t.Fatal(err)
	}
	err = st.Tx.Atomic(t.Context(), func(tx user.Stores) error { return tx.Factors.UseTOTP(t.Context(), checked, 7, now()) })
	if !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("UseTOTP of the factor replaced: got %v, want ErrFactorNotFound", err)
	}
	if got, err := f.TOTP(t.Context(), u.ID); err != nil || got.Confirmed() || got.LastStep != 0 || string(got.Secret) != "sealed two" {
		t.Errorf("TOTP after a use of the factor replaced: got %q confirmed %v, last step %d, %v; want the newer one, unconfirmed, 0", got.Secret, got.ConfirmedAt, got.LastStep, err)
	}
	if err := f.UseTOTP(t.Context(), newer, 7, now()); err != nil {
		t.Errorf("UseTOTP of the newer factor: got %v, want nil", err)
	}
}

func testConcurrentTOTPUse(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	tf := user.TOTPFactor{UserID: u.ID, Secret: []byte("s"), CreatedAt: now()}
	if err := st.Factors.PutTOTP(t.Context(), tf); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := st.Factors.UseTOTP(t.Context(), tf, 7, now())
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, user.ErrCodeUsed):
				t.Errorf("UseTOTP: got %v, want nil or ErrCodeUsed", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("concurrent uses of one step: %d succeeded, want exactly 1", wins.Load())
	}
}

func testRecoveryCodes(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	f := st.Factors
	old := [][]byte{randomHash(), randomHash()}
	if err := f.SetRecoveryCodes(t.Context(), ada.ID, old, now()); err != nil {
		t.Fatal(err)
	}
	hashes := [][]byte{randomHash(), randomHash(), randomHash()}
	if err := f.SetRecoveryCodes(t.Context(), ada.ID, hashes, now()); err != nil {
		t.Fatal(err)
	}
	if n, err := f.RecoveryCodes(t.Context(), ada.ID); err != nil || n != 3 {
		t.Fatalf("RecoveryCodes: got %d, %v; want 3 (the old set replaced)", n, err)
	}
	if _, err := f.UseRecoveryCode(t.Context(), ada.ID, old[0], now()); !errors.Is(err, user.ErrInvalidCode) {
		t.Errorf("UseRecoveryCode of a replaced code: got %v, want ErrInvalidCode", err)
	}
	if _, err := f.UseRecoveryCode(t.Context(), bob.ID, hashes[0], now()); !errors.Is(err, user.ErrInvalidCode) {
		t.Errorf("UseRecoveryCode of another user's code: got %v, want ErrInvalidCode", err)
	}
	if left, err := f.UseRecoveryCode(t.Context(), ada.ID, hashes[1], now()); err != nil || left != 2 {
		t.Errorf("UseRecoveryCode: got %d left, %v; want 2, nil", left, err)
	}
	if _, err := f.UseRecoveryCode(t.Context(), ada.ID, hashes[1], now()); !errors.Is(err, user.ErrInvalidCode) {
		t.Errorf("UseRecoveryCode twice: got %v, want ErrInvalidCode", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.UseRecoveryCode(t.Context(), ada.ID, hashes[2], now()); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, user.ErrInvalidCode) {
				t.Errorf("UseRecoveryCode: got %v, want nil or ErrInvalidCode", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("concurrent uses of one recovery code: %d succeeded, want exactly 1", wins.Load())
	}
	if err := f.PutTOTP(t.Context(), user.TOTPFactor{UserID: ada.ID, Secret: []byte("s"), CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	if had, err := f.DeleteAll(t.Context(), ada.ID); err != nil || !had {
		t.Errorf("DeleteAll: got %v, %v; want true, nil", had, err)
	}
	if had, err := f.DeleteAll(t.Context(), ada.ID); err != nil || had {
		t.Errorf("DeleteAll again: got %v, %v; want false, nil", had, err)
	}
	if n, err := f.RecoveryCodes(t.Context(), ada.ID); err != nil || n != 0 {
		t.Errorf("RecoveryCodes after DeleteAll: got %d, %v; want 0", n, err)
	}
}

func testMFAChallenges(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	c := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, ClientID: "cli", Device: "dev-1", CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
	if err := st.MFAChallenges.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	got, err := st.MFAChallenges.ByHash(t.Context(), c.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("ByHash: mismatch (-want +got):\n%s", diff)
	}
	if _, err := st.MFAChallenges.ByHash(t.Context(), randomHash()); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("ByHash of an unknown hash: got %v, want ErrInvalidMFAToken", err)
	}
	if err := st.MFAChallenges.Use(t.Context(), c.Hash, c.ExpiresAt); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("Use at expiry: got %v, want ErrInvalidMFAToken", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := st.MFAChallenges.Use(t.Context(), c.Hash, at.Add(time.Minute)); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, user.ErrInvalidMFAToken) {
				t.Errorf("Use: got %v, want nil or ErrInvalidMFAToken", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("concurrent uses of one challenge: %d succeeded, want exactly 1", wins.Load())
	}
	if got, err := st.MFAChallenges.ByHash(t.Context(), c.Hash); err != nil || !got.UsedAt.Equal(at.Add(time.Minute)) {
		t.Errorf("ByHash after Use: got used at %v, %v; want %v", got.UsedAt, err, at.Add(time.Minute))
	}
	// A new challenge removes the user's expired ones.
	later := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, CreatedAt: c.ExpiresAt, ExpiresAt: c.ExpiresAt.Add(5 * time.Minute)}
	if err := st.MFAChallenges.Create(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	if _, err := st.MFAChallenges.ByHash(t.Context(), c.Hash); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("ByHash of an expired challenge after a new one: got %v, want ErrInvalidMFAToken", err)
	}
	ghost := user.MFAChallenge{Hash: randomHash(), UserID: uuid.Must(uuid.NewV7()), CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	if err := st.MFAChallenges.Create(t.Context(), ghost); err == nil {
		t.Errorf("Create of a missing user's challenge: got nil error, want one")
	}
}

// UseAll ends every usable challenge of one account, inside a
// transaction as outside, and leaves used ones and other accounts' as
// they were.
func testMFAChallengesUseAll(t *testing.T, open newStores) {
	st := open(t)
	ada, bob := create(t, st.Users, NewUser(1)), create(t, st.Users, NewUser(2))
	at := now()
	challenge := func(u user.User) []byte {
		c := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		if err := st.MFAChallenges.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		return c.Hash
	}
	used, first, second, bobs := challenge(ada), challenge(ada), challenge(ada), challenge(bob)
	if err := st.MFAChallenges.Use(t.Context(), used, at); err != nil {
		t.Fatal(err)
	}
	end := at.Add(time.Minute)
	err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		return tx.MFAChallenges.UseAll(t.Context(), ada.ID, end)
	})
	if err != nil {
		t.Fatalf("UseAll: %v", err)
	}
	for _, tt := range []struct {
		name string
		hash []byte
		used time.Time
	}{{"a used challenge", used, at}, {"a usable one", first, end}, {"another usable one", second, end}, {"another account's", bobs, time.Time{}}} {
		if got, err := st.MFAChallenges.ByHash(t.Context(), tt.hash); err != nil || !got.UsedAt.Equal(tt.used) {
			t.Errorf("%s after UseAll: used at %v, %v; want %v", tt.name, got.UsedAt, err, tt.used)
		}
	}
	if err := st.MFAChallenges.Use(t.Context(), first, end); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("Use after UseAll: got %v, want ErrInvalidMFAToken", err)
	}
	if err := st.MFAChallenges.Use(t.Context(), bobs, end); err != nil {
		t.Errorf("Use of another account's challenge after UseAll: got %v, want nil", err)
	}
	if err := st.MFAChallenges.UseAll(t.Context(), uuid.Must(uuid.NewV7()), end); err != nil {
		t.Errorf("UseAll of an account without challenges: got %v, want nil", err)
	}
}

// MarkFailed is true once per challenge, for the first mark (inside a
// transaction as outside), keeps that mark's time, and leaves the
// challenge usable; an unknown challenge is false.
func testMFAChallengesMarkFailed(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	c := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
	if err := st.MFAChallenges.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	var first bool
	err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		var err error
		first, err = tx.MFAChallenges.MarkFailed(t.Context(), c.Hash, at.Add(time.Second))
		return err
	})
	if err != nil || !first {
		t.Fatalf("first MarkFailed: got %v, %v; want true", first, err)
	}
	if again, err := st.MFAChallenges.MarkFailed(t.Context(), c.Hash, at.Add(2*time.Second)); err != nil || again {
		t.Errorf("second MarkFailed: got %v, %v; want false", again, err)
	}
	got, err := st.MFAChallenges.ByHash(t.Context(), c.Hash)
	if err != nil || !got.FailedAt.Equal(at.Add(time.Second)) || !got.UsedAt.IsZero() {
		t.Errorf("after MarkFailed: failed at %v, used at %v, %v; want the first mark's %v, unused", got.FailedAt, got.UsedAt, err, at.Add(time.Second))
	}
	if err := st.MFAChallenges.Use(t.Context(), c.Hash, at.Add(3*time.Second)); err != nil {
		t.Errorf("Use after MarkFailed: %v", err)
	}
	if unknown, err := st.MFAChallenges.MarkFailed(t.Context(), randomHash(), at); err != nil || unknown {
		t.Errorf("MarkFailed of an unknown challenge: got %v, %v; want false, nil", unknown, err)
	}
}

// A challenge used inside a transaction is used only if the transaction
// commits: another use, started while the transaction is under way,
// fails after a commit and succeeds after a rollback (the second step of
// a login claims its mfa_token in the transaction that uses its code, so
// that a wrong code leaves the token usable and the losing step of two
// uses nothing).
func testMFAChallengeUseInTx(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	errWrongCode := errors.New("the code after the claim is wrong")
	for _, tt := range []struct {
		name   string
		commit bool
		want   error
	}{{"rolled back", false, nil}, {"committed", true, user.ErrInvalidMFAToken}} {
		c := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
		if err := st.MFAChallenges.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		other := make(chan error, 1)
		err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
			if err := tx.MFAChallenges.Use(t.Context(), c.Hash, at); err != nil {
				return err
			}
			go func() { other <- st.MFAChallenges.Use(t.Context(), c.Hash, at) }()
			if !tt.commit {
				return errWrongCode
			}
			return nil
		})
		if (err == nil) != tt.commit {
			t.Fatalf("%s: Atomic = %v", tt.name, err)
		}
		if got := <-other; !errors.Is(got, tt.want) {
			t.Errorf("%s: another Use started during the transaction: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testDeleteRemovesFactors(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	c := user.MFAChallenge{Hash: randomHash(), UserID: u.ID, CreatedAt: now(), ExpiresAt: now().Add(time.Minute)}
	err := errors.Join(
		st.Factors.PutTOTP(t.Context(), user.TOTPFactor{UserID: u.ID, Secret: []byte("s"), CreatedAt: now()}),
		st.Factors.SetRecoveryCodes(t.Context(), u.ID, [][]byte{randomHash()}, now()),
		st.MFAChallenges.Create(t.Context(), c),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Users.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Factors.TOTP(t.Context(), u.ID); !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("TOTP of a deleted user: got %v, want ErrFactorNotFound", err)
	}
	if n, err := st.Factors.RecoveryCodes(t.Context(), u.ID); err != nil || n != 0 {
		t.Errorf("RecoveryCodes of a deleted user: got %d, %v; want 0", n, err)
	}
	if _, err := st.MFAChallenges.ByHash(t.Context(), c.Hash); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("challenge of a deleted user: got %v, want ErrInvalidMFAToken", err)
	}
}

func testSessionAssurance(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	s, rt := NewSession(u.ID, now())
	s.AMR, s.ACR = []string{user.AMRPassword, user.AMROTP, user.AMRMFA}, user.ACRMultiFactor
	if err := st.Sessions.Create(t.Context(), s, rt); err != nil {
		t.Fatal(err)
	}
	_, got, err := st.Sessions.RefreshToken(t.Context(), rt.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Assurance(), got.Assurance()); diff != "" {
		t.Errorf("RefreshToken: assurance mismatch (-want +got):\n%s", diff)
	}
	// The lookup of a page session carries it too: the OpenID provider's
	// ID tokens say how the browser's sign-in proved its holder.
	if _, got, err = st.Sessions.UserSession(t.Context(), u.ID, s.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Assurance(), got.Assurance()); diff != "" {
		t.Errorf("UserSession: assurance mismatch (-want +got):\n%s", diff)
	}
}
