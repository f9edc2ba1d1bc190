package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// TestClientGuard: wrong secrets of one client from one address, within
// the window, lock it out there for the cool-down with a refusal that
// says when to come back; the same client from another address, other
// clients and the accounts' lockout keep their own counts; the cool-down
// ends on the clock.
func TestClientGuard(t *testing.T) {
	c := newClock()
	clock := Clock{Now: c.now}
	store := NewMemory(clock)
	g := NewClientGuard(store, LockoutPolicy{Threshold: 3, Window: 15 * time.Minute, Cooldown: 10 * time.Minute,
		SlowAfter: 1, Step: time.Hour}, clock) // a slowdown is never the client guard's
	var locked []string
	g.OnLocked = func(_ context.Context, id, from string) { locked = append(locked, id+" "+from) }
	ctx := t.Context()
	const attacker, own = "198.51.100.9", "203.0.113.10"
	for range 2 {
		g.Failed(ctx, "reporting", attacker)
		if err := g.Admit(ctx, "reporting", attacker); err != nil {
			t.Fatalf("under the threshold: %v", err)
		}
	}
	g.Failed(ctx, "reporting", attacker)
	err := g.Admit(ctx, "reporting", attacker)
	ex, ok := errors.AsType[*ExceededError](err)
	if !ok || !errors.Is(err, oauthclient.ErrClientLocked) || errors.Is(err, user.ErrLocked) {
		t.Fatalf("at the threshold: %v, want an ExceededError of oauthclient.ErrClientLocked", err)
	}
	if ex.RetryAfter != 10*time.Minute || ex.Rule.Name != ClientLockoutRule || ex.Detail != "too many wrong secrets for this client: try again in 600 seconds" {
		t.Errorf("refusal = %+v, want the cool-down's 10 minutes", ex)
	}
	if len(locked) != 1 || locked[0] != "reporting "+attacker {
		t.Errorf("OnLocked heard %q, want the client at the attacker's address once", locked)
	}
	if err := g.Admit(ctx, "reporting", own); err != nil {
		t.Errorf("the same client from another address: %v", err)
	}
	if err := g.Admit(ctx, "billing", attacker); err != nil {
		t.Errorf("another client: %v", err)
	}
	// The accounts' lockout over the same store does not see it.
	if err := NewLockout(store, LockoutPolicy{Threshold: 1, Window: time.Hour, Cooldown: time.Hour}, clock).Check(ctx, "reporting"); err != nil {
		t.Errorf("an account named like the client: %v", err)
	}
	c.add(10*time.Minute - time.Second)
	if err := g.Admit(ctx, "reporting", attacker); err == nil {
		t.Error("a second before the cool-down ends: admitted")
	}
	c.add(time.Second)
	if err := g.Admit(ctx, "reporting", attacker); err != nil {
		t.Errorf("after the cool-down: %v", err)
	}
}

// TestClientGuardWindow: failures further apart than the window do not
// add up.
func TestClientGuardWindow(t *testing.T) {
	c := newClock()
	clock := Clock{Now: c.now}
	g := NewClientGuard(NewMemory(clock), LockoutPolicy{Threshold: 2, Window: time.Minute, Cooldown: time.Minute}, clock)
	g.Failed(t.Context(), "reporting", "198.51.100.9")
	c.add(time.Minute)
	g.Failed(t.Context(), "reporting", "198.51.100.9")
	if err := g.Admit(t.Context(), "reporting", "198.51.100.9"); err != nil {
		t.Errorf("two failures a window apart: %v, want admitted", err)
	}
}

// TestClientGuardKeepsNothingForAdmissions: asking about client ids
// stores nothing, so that made-up ids cost no memory (the registry only
// counts failures of registered clients).
func TestClientGuardKeepsNothingForAdmissions(t *testing.T) {
	store := NewMemory(Clock{})
	g := NewClientGuard(store, LockoutPolicy{Threshold: 10, Window: time.Minute, Cooldown: time.Minute}, Clock{})
	for i := range 1000 {
		if err := g.Admit(t.Context(), fmt.Sprintf("made-up-%d", i), "198.51.100.9"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(store.m); n != 0 {
		t.Errorf("the store holds %d keys after admissions alone, want none", n)
	}
}

// TestClientGuardCountsAnIPv6ClientByItsPrefix: an IPv6 client holds a
// whole /64 (as the per-address limits count it), so taking a fresh
// address in it for every guess does not start a fresh count; another
// /64 has its own.
func TestClientGuardCountsAnIPv6ClientByItsPrefix(t *testing.T) {
	c := newClock()
	clock := Clock{Now: c.now}
	g := NewClientGuard(NewMemory(clock), LockoutPolicy{Threshold: 3, Window: time.Hour, Cooldown: time.Hour}, clock)
	for i := range 3 {
		g.Failed(t.Context(), "reporting", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if err := g.Admit(t.Context(), "reporting", "2001:db8:1:2::ffff"); !errors.Is(err, oauthclient.ErrClientLocked) {
		t.Errorf("another address of the same /64: %v, want ErrClientLocked", err)
	}
	if err := g.Admit(t.Context(), "reporting", "2001:db8:1:3::1"); err != nil {
		t.Errorf("another /64: %v, want admitted", err)
	}
}
