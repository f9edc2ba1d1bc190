package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Fallback is a Store that uses primary (Redis) and, while primary fails,
// local (memory): limits keep holding, per replica, instead of failing open
// or failing requests. After a failure primary is left alone for retry,
// then tried again. OnChange hears every switch, to log it and set a
// metric; OnError hears every failure of primary.
type Fallback struct {
	primary, local Store
	retry          time.Duration
	now            func() time.Time
	// OnChange is called with degraded true when the store falls back to
	// local (err says why) and false when primary answers again.
	OnChange func(degraded bool, err error)
	// OnError is called for each failed call to primary.
	OnError func(err error)

	mu        sync.Mutex
	degraded  bool
	nextProbe time.Time
}

// NewFallback returns primary backed by local.
func NewFallback(primary, local Store, retry time.Duration, c Clock) *Fallback {
	return &Fallback{primary: primary, local: local, retry: retry, now: c.now}
}

// Degraded reports whether the store is serving from local now.
func (f *Fallback) Degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

// usePrimary reports whether to try primary now.
func (f *Fallback) usePrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.degraded || !f.now().Before(f.nextProbe)
}

// result notes how primary answered and returns whether it failed.
func (f *Fallback) result(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true // the caller gave up, not Redis: no switch
	}
	f.mu.Lock()
	changed := f.degraded != (err != nil)
	f.degraded = err != nil
	if err != nil {
		f.nextProbe = f.now().Add(f.retry)
	}
	f.mu.Unlock()
	if err != nil && f.OnError != nil {
		f.OnError(err)
	}
	if changed && f.OnChange != nil {
		f.OnChange(err != nil, err)
	}
	return err != nil
}

// Hit implements Store.
func (f *Fallback) Hit(ctx context.Context, curr, prev string, ttl time.Duration) (int64, int64, error) {
	if f.usePrimary() {
		c, p, err := f.primary.Hit(ctx, curr, prev, ttl)
		if !f.result(err) {
			return c, p, nil
		}
	}
	return f.local.Hit(ctx, curr, prev, ttl)
}

// Incr implements Store.
func (f *Fallback) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if f.usePrimary() {
		n, err := f.primary.Incr(ctx, key, ttl)
		if !f.result(err) {
			return n, nil
		}
	}
	return f.local.Incr(ctx, key, ttl)
}

// Decr implements Store, on primary when it answers, else on local.
func (f *Fallback) Decr(ctx context.Context, key string) error {
	if f.usePrimary() && !f.result(f.primary.Decr(ctx, key)) {
		return nil
	}
	return f.local.Decr(ctx, key)
}

// Get implements Store.
func (f *Fallback) Get(ctx context.Context, key string) (int64, error) {
	if f.usePrimary() {
		n, err := f.primary.Get(ctx, key)
		if !f.result(err) {
			return n, nil
		}
	}
	return f.local.Get(ctx, key)
}

// Set implements Store: on primary when it answers, else on local.
func (f *Fallback) Set(ctx context.Context, key string, v int64, ttl time.Duration) error {
	if f.usePrimary() && !f.result(f.primary.Set(ctx, key, v, ttl)) {
		return nil
	}
	return f.local.Set(ctx, key, v, ttl)
}

// Del implements Store. It removes keys from both, so that nothing counted
// locally during an outage outlives a reset.
func (f *Fallback) Del(ctx context.Context, keys ...string) error {
	if f.usePrimary() {
		f.result(f.primary.Del(ctx, keys...))
	}
	return f.local.Del(ctx, keys...)
}
