package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func newMiniredisStore(t *testing.T) (*miniredis.Miniredis, *Redis) {
	t.Helper()
	mr := miniredis.RunT(t)
	c, err := NewRedisClient("redis://" + mr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return mr, NewRedis(c, "test:")
}

func TestRedisStore(t *testing.T) {
	mr, s := newMiniredisStore(t)
	ctx := t.Context()
	for want := int64(1); want <= 2; want++ {
		c, p, err := s.Hit(ctx, "w:2", "w:1", time.Minute)
		if err != nil || c != want || p != 0 {
			t.Fatalf("Hit = %d, %d, %v; want %d, 0, nil", c, p, err, want)
		}
	}
	if c, p, _ := s.Hit(ctx, "w:3", "w:2", time.Minute); c != 1 || p != 2 {
		t.Errorf("Hit of the next window = %d, %d; want 1, 2", c, p)
	}
	if ttl := mr.TTL("test:w:3"); ttl != time.Minute {
		t.Errorf("TTL of a window key = %s, want 1m", ttl)
	}
	if !mr.Exists("test:w:3") || mr.Exists("w:3") {
		t.Error("keys are not under the prefix")
	}
	if n, err := s.Incr(ctx, "f", time.Hour); err != nil || n != 1 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	mr.FastForward(30 * time.Minute)
	if n, _ := s.Incr(ctx, "f", time.Hour); n != 2 {
		t.Errorf("Incr = %d, want 2", n)
	}
	if ttl := mr.TTL("test:f"); ttl != 30*time.Minute {
		t.Errorf("TTL after a second Incr = %s, want the first expiry kept (30m left)", ttl)
	}
	if err := s.Set(ctx, "l", 42, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Get(ctx, "l"); err != nil || n != 42 {
		t.Errorf("Get = %d, %v; want 42", n, err)
	}
	if err := s.Decr(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Get(ctx, "l"); n != 41 || mr.TTL("test:l") != time.Minute {
		t.Errorf("after Decr: %d, TTL %s; want 41, the expiry kept", n, mr.TTL("test:l"))
	}
	if err := s.Decr(ctx, "absent"); err != nil || mr.Exists("test:absent") {
		t.Errorf("Decr of an absent key: %v, made it %v; want nil and still absent", err, mr.Exists("test:absent"))
	}
	if err := s.Set(ctx, "zero", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Decr(ctx, "zero"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Get(ctx, "zero"); n != 0 {
		t.Errorf("Decr of 0 = %d, want 0 (never below)", n)
	}
	if err := s.Del(ctx, "l", "f"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Get(ctx, "l"); err != nil || n != 0 {
		t.Errorf("Get after Del = %d, %v; want 0, nil", n, err)
	}

	mr.Close()
	if _, _, err := s.Hit(ctx, "a", "b", time.Minute); err == nil {
		t.Error("Hit with Redis down: no error")
	}
	if _, err := s.Incr(ctx, "a", time.Minute); err == nil {
		t.Error("Incr with Redis down: no error")
	}
	if _, err := s.Get(ctx, "a"); err == nil {
		t.Error("Get with Redis down: no error")
	}
	if err := s.Set(ctx, "a", 1, time.Minute); err == nil {
		t.Error("Set with Redis down: no error")
	}
	if err := s.Del(ctx, "a"); err == nil {
		t.Error("Del with Redis down: no error")
	}
	if err := s.Decr(ctx, "a"); err == nil {
		t.Error("Decr with Redis down: no error")
	}
}

func TestNewRedisClientRefusesBadURL(t *testing.T) {
	if _, err := NewRedisClient("http://x"); err == nil {
		t.Error("NewRedisClient(http://x): no error")
	}
}

// TestFallbackWhenRedisStops: limits keep holding from memory while Redis
// is down, the switch is reported both ways, and nothing fails.
func TestFallbackWhenRedisStops(t *testing.T) {
	mr, redisStore := newMiniredisStore(t)
	c := newClock()
	fb := NewFallback(redisStore, NewMemory(Clock{Now: c.now}), time.Minute, Clock{Now: c.now})
	var mu sync.Mutex
	var changes []bool
	errs := 0
	fb.OnChange = func(degraded bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, degraded)
		if degraded && err == nil {
			t.Error("OnChange(true) without the cause")
		}
	}
	fb.OnError = func(error) { mu.Lock(); errs++; mu.Unlock() }
	l := &Limiter{store: fb, now: c.now}
	rule := Rule{Name: "login", Limit: 2, Window: time.Hour}
	ctx := t.Context()

	l.Allow(ctx, rule, "ip")
	if len(mr.Keys()) == 0 {
		t.Fatal("nothing counted in Redis while it is up")
	}
	mr.Close()
	// Redis is down: the limit holds from memory, nothing fails.
	if r := l.Allow(ctx, rule, "ip2"); !r.Allowed {
		t.Fatalf("first request with Redis down refused: %+v", r)
	}
	l.Allow(ctx, rule, "ip2")
	if r := l.Allow(ctx, rule, "ip2"); r.Allowed {
		t.Errorf("3rd request over a limit of 2 with Redis down: allowed; want the local limit to hold")
	}
	if !fb.Degraded() || len(changes) != 1 || !changes[0] || errs != 1 {
		t.Errorf("degraded %v, changes %v, errors %d; want true, [true], 1 (Redis left alone until the retry)", fb.Degraded(), changes, errs)
	}
	lo := NewLockout(fb, LockoutPolicy{Threshold: 1, Window: time.Hour, Cooldown: time.Hour}, Clock{Now: c.now})
	lo.Failed(ctx, "acct")
	if err := lo.Check(ctx, "acct"); err == nil {
		t.Error("lockout with Redis down did not lock")
	}
	lo.Succeeded(ctx, "acct")

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute) // the retry interval
	if r := l.Allow(ctx, rule, "ip3"); !r.Allowed {
		t.Errorf("after Redis is back: %+v, want allowed", r)
	}
	if fb.Degraded() || len(changes) != 2 || changes[1] {
		t.Errorf("after Redis is back: degraded %v, changes %v; want false, [true false]", fb.Degraded(), changes)
	}
	if len(mr.Keys()) == 0 {
		t.Error("nothing counted in Redis once it is back")
	}
}

func TestFallbackIgnoresCallersThatGiveUp(t *testing.T) {
	fb := NewFallback(failing{context.Canceled}, NewMemory(Clock{}), time.Minute, Clock{})
	if _, err := fb.Get(t.Context(), "k"); err != nil || fb.Degraded() {
		t.Errorf("a cancelled call: err %v, degraded %v; want nil, false", err, fb.Degraded())
	}
	fb = NewFallback(failing{errors.New("down")}, NewMemory(Clock{}), time.Minute, Clock{})
	for _, call := range []func() error{
		func() error { _, err := fb.Incr(t.Context(), "k", time.Minute); return err },
		func() error { return fb.Set(t.Context(), "k", 1, time.Minute) },
		func() error { return fb.Del(t.Context(), "k") },
	} {
		if err := call(); err != nil {
			t.Errorf("fallback call failed: %v", err)
		}
	}
}

type failing struct{ err error }

func (f failing) Hit(context.Context, string, string, time.Duration) (int64, int64, error) {
	return 0, 0, f.err
}
func (f failing) Incr(context.Context, string, time.Duration) (int64, error) { return 0, f.err }
func (f failing) Decr(context.Context, string) error                         { return f.err }
func (f failing) Get(context.Context, string) (int64, error)                 { return 0, f.err }
func (f failing) Set(context.Context, string, int64, time.Duration) error    { return f.err }
func (f failing) Del(context.Context, ...string) error                       { return f.err }
