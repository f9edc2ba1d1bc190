// Package ratelimit counts requests and failed logins in a Store shared by
// every replica (Redis) or kept in process (Memory), and decides when a
// client or an account has had enough: sliding-window rate limits
// (Limiter) and a per-account lockout after repeated failed logins
// (Lockout). It knows nothing about HTTP: callers pass the keys (a client
// address, an account) and turn a refusal into a response.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Store keeps expiring integer counters.
type Store interface {
	// Hit adds 1 to curr, whose expiry becomes ttl, and returns its new
	// value with the value of prev (0 when absent), in one round trip.
	Hit(ctx context.Context, curr, prev string, ttl time.Duration) (c, p int64, err error)
	// Incr adds 1 to key and returns the new value; a new key expires
	// after ttl, an existing one keeps its expiry.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// Decr takes 1 from key when it is above 0, keeping its expiry; an
	// absent key stays absent.
	Decr(ctx context.Context, key string) error
	// Get returns key's value, 0 when absent.
	Get(ctx context.Context, key string) (int64, error)
	// Set sets key to v, expiring after ttl.
	Set(ctx context.Context, key string, v int64, ttl time.Duration) error
	// Del removes keys.
	Del(ctx context.Context, keys ...string) error
}

// Memory is a Store in this process: right for one instance, and the
// fallback of Redis. Expired keys are swept as it is used.
type Memory struct {
	mu        sync.Mutex
	m         map[string]entry
	now       func() time.Time
	nextSweep time.Time
}

type entry struct {
	n   int64
	exp time.Time
}

// NewMemory returns an empty in-process store.
func NewMemory(c Clock) *Memory {
	return &Memory{m: map[string]entry{}, now: c.now}
}

// get returns key's live entry; the caller holds mu.
func (s *Memory) get(key string, now time.Time) (entry, bool) {
	e, ok := s.m[key]
	if ok && !now.Before(e.exp) {
		delete(s.m, key)
		return entry{}, false
	}
	return e, ok
}

// sweep drops expired keys at most once a minute; the caller holds mu.
func (s *Memory) sweep(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(time.Minute)
	for k, e := range s.m {
		if !now.Before(e.exp) {
			delete(s.m, k)
		}
	}
}

// Hit implements Store.
func (s *Memory) Hit(_ context.Context, curr, prev string, ttl time.Duration) (int64, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	e, _ := s.get(curr, now)
	e.n++
	e.exp = now.Add(ttl)
	s.m[curr] = e
	p, _ := s.get(prev, now)
	return e.n, p.n, nil
}

// Incr implements Store.
func (s *Memory) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	e, ok := s.get(key, now)
	if !ok {
		e.exp = now.Add(ttl)
	}
	e.n++
	s.m[key] = e
	return e.n, nil
}

// Decr implements Store.
func (s *Memory) Decr(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key, s.now()); ok && e.n > 0 {
		e.n--
		s.m[key] = e
	}
	return nil
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, _ := s.get(key, s.now())
	return e.n, nil
}

// Set implements Store.
func (s *Memory) Set(_ context.Context, key string, v int64, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = entry{n: v, exp: s.now().Add(ttl)}
	return nil
}

// Del implements Store.
func (s *Memory) Del(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.m, k)
	}
	return nil
}
