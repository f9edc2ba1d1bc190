package ratelimit

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

func newGuard(c *clock, threshold int, rate Rule) *LoginGuard {
	clock := Clock{Now: c.now}
	store := NewMemory(clock)
	lockout := NewLockout(store, LockoutPolicy{Threshold: threshold, Window: time.Hour, Cooldown: time.Hour}, clock)
	return NewLoginGuard(store, NewLimiter(store, clock), rate, lockout)
}

// TestLoginGuardDevices: failures without a device token lock the
// account's untrusted devices only; the owner's device is counted and
// locked on its own, and never by the others.
func TestLoginGuardDevices(t *testing.T) {
	c := newClock()
	g := newGuard(c, 2, Rule{})
	ctx := t.Context()
	attacker := func(guess string) user.LoginAttempt { return user.LoginAttempt{Key: "id:ada", Fingerprint: guess} }
	owner := user.LoginAttempt{Key: "id:ada", Device: "phone", Fingerprint: "right"}
	for _, guess := range []string{"a", "b"} {
		if err := g.Admit(ctx, attacker(guess)); err != nil {
			t.Fatalf("Admit before the threshold: %v", err)
		}
		g.Failed(ctx, attacker(guess))
	}
	if err := g.Admit(ctx, attacker("c")); !errors.Is(err, user.ErrLocked) {
		t.Fatalf("untrusted attempt after the threshold: %v, want ErrLocked", err)
	}
	if err := g.Admit(ctx, owner); err != nil {
		t.Fatalf("the owner's device while the account is locked for others: %v, want admitted", err)
	}
	g.Succeeded(ctx, owner)
	// The device's own failures lock the device, not the others'.
	for _, guess := range []string{"x", "y"} {
		g.Failed(ctx, user.LoginAttempt{Key: "id:ada", Device: "phone", Fingerprint: guess})
	}
	if err := g.Admit(ctx, owner); !errors.Is(err, user.ErrLocked) {
		t.Errorf("a device after its own failures: %v, want ErrLocked", err)
	}
	if err := g.Admit(ctx, user.LoginAttempt{Key: "id:ada", Device: "laptop"}); err != nil {
		t.Errorf("another trusted device: %v, want admitted", err)
	}
}

// TestLoginGuardCountsIdenticalAttemptsOnce: a client that sends each
// failed login twice (golang.org/x/oauth2's default auth style) spends one
// failure, not two; a minute later the same guess counts again.
func TestLoginGuardCountsIdenticalAttemptsOnce(t *testing.T) {
	c := newClock()
	g := newGuard(c, 3, Rule{})
	ctx := t.Context()
	a := user.LoginAttempt{Key: "id:ada", Fingerprint: "typo"}
	for range 4 {
		g.Failed(ctx, a)
	}
	if err := g.Admit(ctx, a); err != nil {
		t.Fatalf("four identical failures counted as %v, want one", err)
	}
	c.add(duplicateWindow + time.Second)
	g.Failed(ctx, a)
	g.Failed(ctx, user.LoginAttempt{Key: "id:ada", Fingerprint: "other"})
	if err := g.Admit(ctx, a); !errors.Is(err, user.ErrLocked) {
		t.Errorf("three distinct failures: %v, want ErrLocked", err)
	}
}

// TestLoginGuardRateCountsIdenticalAttemptsOnce: the retry of a failed
// login is not counted against the account's rate either, so that five
// typos sent twice leave room for the right password; a distinct attempt
// and a success are counted.
func TestLoginGuardRateCountsIdenticalAttemptsOnce(t *testing.T) {
	c := newClock()
	g := newGuard(c, 100, Rule{Name: "login_account", Limit: 3, Window: time.Minute})
	ctx := t.Context()
	for _, guess := range []string{"a", "b"} {
		a := user.LoginAttempt{Key: "id:ada", Fingerprint: guess}
		for range 2 { // the attempt and the client's retry
			if err := g.Admit(ctx, a); err != nil {
				t.Fatalf("attempt %q: %v, want admitted", guess, err)
			}
			g.Failed(ctx, a)
		}
	}
	right := user.LoginAttempt{Key: "id:ada", Fingerprint: "right"}
	if err := g.Admit(ctx, right); err != nil {
		t.Fatalf("the third distinct attempt: %v, want admitted", err)
	}
	if err := g.Admit(ctx, user.LoginAttempt{Key: "id:ada", Fingerprint: "c"}); !errors.Is(err, user.ErrRateLimited) {
		t.Errorf("a fourth distinct attempt: %v, want ErrRateLimited", err)
	}
}

// TestLoginGuardRefusalsDoNotCount: attempts refused by the rate do not
// add to it, so hammering does not keep the account refused.
func TestLoginGuardRefusalsDoNotCount(t *testing.T) {
	c := newClock()
	rate := Rule{Name: "login-account", Limit: 2, Window: time.Minute}
	g := newGuard(c, 100, rate)
	var limited []string
	g.OnLimited = func(r Rule) { limited = append(limited, r.Name) }
	ctx := t.Context()
	a := user.LoginAttempt{Key: "id:ada"}
	for range 2 {
		if err := g.Admit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		if err := g.Admit(ctx, a); !errors.Is(err, user.ErrRateLimited) {
			t.Fatalf("over the rate: %v, want ErrRateLimited", err)
		}
	}
	if len(limited) != 50 || limited[0] != "login-account" {
		t.Errorf("OnLimited saw %d refusals, want 50", len(limited))
	}
	c.add(2 * time.Minute) // the two admitted attempts slide out; the 50 refusals never counted
	if err := g.Admit(ctx, a); err != nil {
		t.Errorf("after the window: %v, want admitted", err)
	}
	if err := g.Admit(ctx, user.LoginAttempt{Key: "id:ada", Device: "phone"}); err != nil {
		t.Errorf("a trusted device has its own rate: %v", err)
	}
}

func TestLoginGuardOff(t *testing.T) {
	store := NewMemory(Clock{})
	g := NewLoginGuard(store, NewLimiter(store, Clock{}), Rule{}, nil)
	for range 100 {
		if err := g.Admit(t.Context(), user.LoginAttempt{Key: "id:ada"}); err != nil {
			t.Fatalf("a guard with nothing on refused: %v", err)
		}
		g.Failed(t.Context(), user.LoginAttempt{Key: "id:ada"})
	}
}
