package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func TestLimiterSlidingWindow(t *testing.T) {
	c := newClock()
	l := NewLimiter(NewMemory(Clock{Now: c.now}), Clock{Now: c.now})
	rule := Rule{Name: "login", Limit: 3, Window: time.Minute}
	ctx := t.Context()
	for i := range 3 {
		if r := l.Allow(ctx, rule, "203.0.113.7"); !r.Allowed || r.Remaining != 2-i {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, r, 2-i)
		}
	}
	r := l.Allow(ctx, rule, "203.0.113.7")
	if r.Allowed || r.Remaining != 0 || r.RetryAfter < time.Second || r.RetryAfter > 2*time.Minute {
		t.Fatalf("4th request: %+v, want refused with a Retry-After within the window", r)
	}
	if r := l.Allow(ctx, rule, "198.51.100.9"); !r.Allowed {
		t.Error("another key is refused: keys must not share a count")
	}
	// Half way through the next window, half of the previous one still
	// counts: 4 * 0.5 = 2 of 3, so one more is allowed, then none.
	c.add(time.Minute + 30*time.Second)
	if r := l.Allow(ctx, rule, "203.0.113.7"); !r.Allowed {
		t.Errorf("in the next window: %+v, want allowed", r)
	}
	if r := l.Allow(ctx, rule, "203.0.113.7"); r.Allowed {
		t.Errorf("over the weighted count: %+v, want refused", r)
	}
	c.add(3 * time.Minute)
	if r := l.Allow(ctx, rule, "203.0.113.7"); !r.Allowed {
		t.Errorf("two windows later: %+v, want allowed", r)
	}
	if r := l.Allow(ctx, Rule{Name: "off"}, "x"); !r.Allowed {
		t.Error("a rule that is off refused")
	}
}

func TestRetryAfterIsWhenARequestPassesAgain(t *testing.T) {
	c := newClock()
	l := NewLimiter(NewMemory(Clock{Now: c.now}), Clock{Now: c.now})
	rule := Rule{Name: "r", Limit: 2, Window: 10 * time.Second}
	for range 2 {
		l.Allow(t.Context(), rule, "k")
	}
	r := l.Allow(t.Context(), rule, "k")
	if r.Allowed {
		t.Fatal("3rd request allowed")
	}
	c.add(r.RetryAfter)
	if r := l.Allow(t.Context(), rule, "k"); !r.Allowed {
		t.Errorf("after Retry-After: %+v, want allowed", r)
	}
}

// TestAdmitRetryAfterIsWhenOneMorePasses: Admit does not count what it
// refuses, so its Retry-After is when one more request passes, not a
// second later for the refused one: shortly before it a request is still
// refused, and at it one passes.
func TestAdmitRetryAfterIsWhenOneMorePasses(t *testing.T) {
	c := newClock()
	c.add(17 * time.Second) // not at the start of a window
	l := NewLimiter(NewMemory(Clock{Now: c.now}), Clock{Now: c.now})
	rule := Rule{Name: "r", Limit: 5, Window: time.Minute}
	for range 5 {
		l.Admit(t.Context(), rule, "k")
	}
	r := l.Admit(t.Context(), rule, "k")
	if r.Allowed {
		t.Fatal("6th request admitted")
	}
	for range 10 { // refusals change nothing
		if again := l.Admit(t.Context(), rule, "k"); again.RetryAfter != r.RetryAfter {
			t.Fatalf("Retry-After moved from %s to %s with refused requests", r.RetryAfter, again.RetryAfter)
		}
	}
	// Retry-After is whole seconds, rounded up.
	c.add(r.RetryAfter - 2*time.Second)
	if r := l.Admit(t.Context(), rule, "k"); r.Allowed {
		t.Errorf("2 s before Retry-After: %+v, want refused", r)
	}
	c.add(2 * time.Second)
	if r := l.Admit(t.Context(), rule, "k"); !r.Allowed {
		t.Errorf("at Retry-After: %+v, want admitted", r)
	}
}

// TestRefundTakesBackOneCount: a refunded request no longer counts, in
// the window it was counted in even once the next has begun; a refusal
// Admit did not count, or a refund of a store that never counted, takes
// back nothing.
func TestRefundTakesBackOneCount(t *testing.T) {
	c := newClock()
	c.add(17 * time.Second)
	l := NewLimiter(NewMemory(Clock{Now: c.now}), Clock{Now: c.now})
	rule := Rule{Name: "r", Limit: 2, Window: time.Minute}
	first := l.Allow(t.Context(), rule, "k")
	l.Allow(t.Context(), rule, "k")
	if r := l.Check(t.Context(), rule, "k"); r.Allowed {
		t.Fatalf("after 2 counted: %+v, want refused", r)
	}
	l.Refund(t.Context(), first)
	if r := l.Check(t.Context(), rule, "k"); !r.Allowed {
		t.Fatalf("after one of 2 refunded: %+v, want allowed", r)
	}
	third := l.Allow(t.Context(), rule, "k")
	refused := l.Admit(t.Context(), rule, "k")
	if !third.Allowed || refused.Allowed {
		t.Fatalf("third %+v, fourth %+v: want allowed, then refused", third, refused)
	}
	l.Refund(t.Context(), refused) // counted nothing: takes back nothing
	if r := l.Check(t.Context(), rule, "k"); r.Allowed {
		t.Errorf("after refunding a refusal that was not counted: %+v, want still refused", r)
	}
	c.add(time.Minute) // the next window: the two counted weigh 0.72 each
	if r := l.Check(t.Context(), rule, "k"); r.Allowed {
		t.Fatalf("a minute on, two counted: %+v, want refused", r)
	}
	l.Refund(t.Context(), third)
	l.Refund(t.Context(), Result{Rule: rule, Allowed: true})
	if r := l.Check(t.Context(), rule, "k"); !r.Allowed {
		t.Errorf("a minute on, one of the two refunded in its window: %+v, want allowed", r)
	}
}

// TestCheckCountsNothing: Check says whether one more request would pass
// without counting it, so that only what Allow counts (the failures of
// the provider's endpoints) uses the limit up; it refuses once Allow has
// counted the limit, with the Retry-After of Admit, and passes again then.
func TestCheckCountsNothing(t *testing.T) {
	c := newClock()
	c.add(17 * time.Second)
	l := NewLimiter(NewMemory(Clock{Now: c.now}), Clock{Now: c.now})
	rule := Rule{Name: "r", Limit: 3, Window: time.Minute}
	for range 20 {
		if r := l.Check(t.Context(), rule, "k"); !r.Allowed {
			t.Fatalf("Check with nothing counted: %+v, want allowed", r)
		}
	}
	for range 3 {
		l.Allow(t.Context(), rule, "k")
	}
	r := l.Check(t.Context(), rule, "k")
	if r.Allowed || r.RetryAfter <= 0 {
		t.Fatalf("Check after 3 counted: %+v, want refused with a Retry-After", r)
	}
	if other := l.Check(t.Context(), rule, "other"); !other.Allowed {
		t.Errorf("another key: %+v, want allowed", other)
	}
	c.add(r.RetryAfter)
	if again := l.Check(t.Context(), rule, "k"); !again.Allowed {
		t.Errorf("at Retry-After: %+v, want allowed", again)
	}
}

func TestExceededDetail(t *testing.T) {
	e := Exceeded(Result{Rule: Rule{Name: "login", Limit: 5, Window: time.Minute}, RetryAfter: 1500 * time.Millisecond})
	if want := "too many requests: the limit is 5 per 1m0s; try again in 2 seconds"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestLockout(t *testing.T) {
	c := newClock()
	var slept []time.Duration
	clock := Clock{Now: c.now, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	l := NewLockout(NewMemory(clock), LockoutPolicy{
		Threshold: 4, Window: 15 * time.Minute, Cooldown: 15 * time.Minute,
		SlowAfter: 2, Step: time.Second, MaxDelay: 5 * time.Second,
	}, clock)
	locks := 0
	l.OnLocked = func(context.Context) { locks++ }
	ctx := t.Context()
	const acct = "id:ada"
	for i := range 4 {
		if err := l.Check(ctx, acct); err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
		l.Failed(ctx, acct)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; len(slept) != 2 || slept[0] != want[0] || slept[1] != want[1] {
		t.Errorf("slowed down by %v, want %v (from the 2nd failure on)", slept, want)
	}
	err := l.Check(ctx, acct)
	var ex *ExceededError
	if !errors.As(err, &ex) || ex.Rule.Name != LockoutRule || ex.RetryAfter != 15*time.Minute || locks != 1 {
		t.Fatalf("after 4 failures: %v (locks %d), want locked for 15m", err, locks)
	}
	if err := l.Check(ctx, "id:someone-else"); err != nil {
		t.Errorf("another account is locked too: %v", err)
	}
	c.add(15 * time.Minute)
	if err := l.Check(ctx, acct); err != nil {
		t.Fatalf("after the cool-down: %v, want allowed", err)
	}
	l.Failed(ctx, acct)
	l.Succeeded(ctx, acct) // a successful login after the cool-down resets the count
	for range 3 {
		l.Failed(ctx, acct)
	}
	if err := l.Check(ctx, acct); err != nil {
		t.Errorf("3 failures after a reset: %v, want not locked (the reset cleared the earlier one)", err)
	}
}

func TestLockoutSlowdownStopsWithTheContext(t *testing.T) {
	l := NewLockout(NewMemory(Clock{}), LockoutPolicy{Threshold: 10, Window: time.Minute, Cooldown: time.Minute, SlowAfter: 1, Step: time.Hour, MaxDelay: time.Hour}, Clock{})
	l.Failed(t.Context(), "a")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := l.Check(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check = %v, want the context's error", err)
	}
}

func TestMemoryExpiresAndSweeps(t *testing.T) {
	c := newClock()
	m := NewMemory(Clock{Now: c.now})
	ctx := t.Context()
	if n, _ := m.Incr(ctx, "a", time.Minute); n != 1 {
		t.Fatalf("Incr = %d, want 1", n)
	}
	c.add(30 * time.Second)
	if n, _ := m.Incr(ctx, "a", time.Minute); n != 2 {
		t.Fatalf("Incr = %d, want 2", n)
	}
	c.add(31 * time.Second) // Incr keeps the first expiry
	if n, _ := m.Get(ctx, "a"); n != 0 {
		t.Errorf("Get after expiry = %d, want 0", n)
	}
	_ = m.Set(ctx, "b", 7, time.Minute)
	if n, _ := m.Get(ctx, "b"); n != 7 {
		t.Errorf("Get = %d, want 7", n)
	}
	_ = m.Del(ctx, "b")
	if n, _ := m.Get(ctx, "b"); n != 0 {
		t.Errorf("Get after Del = %d, want 0", n)
	}
	_ = m.Set(ctx, "c", 1, time.Second)
	c.add(2 * time.Minute)
	_, _ = m.Incr(ctx, "d", time.Minute) // sweeps
	m.mu.Lock()
	_, kept := m.m["c"]
	m.mu.Unlock()
	if kept {
		t.Error("expired key survived a sweep")
	}
}
