package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every replica. Keys get prefix, so
// several services (or tests) can share one Redis.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	decr   *redis.Script
}

// decrScript is Decr in one step: DECR would make an absent key -1, with
// no expiry.
const decrScript = `
local v = tonumber(redis.call('GET', KEYS[1]))
if v and v > 0 then return redis.call('DECR', KEYS[1]) end
return 0`

// NewRedis returns a store on c.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix, decr: redis.NewScript(decrScript)}
}

// NewRedisClient connects to url (redis:// or rediss://) with short
// timeouts and no retries: a Redis that is slow or down must cost a request
// milliseconds, after which Fallback serves it from memory.
func NewRedisClient(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	opts.DialTimeout = 250 * time.Millisecond
	opts.ReadTimeout = 200 * time.Millisecond
	opts.WriteTimeout = 200 * time.Millisecond
	opts.PoolTimeout = 250 * time.Millisecond
	opts.MaxRetries = -1   // none
	opts.DialerRetries = 1 // one dial per attempt: Fallback decides when to try again
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}

// Hit implements Store.
func (s *Redis) Hit(ctx context.Context, curr, prev string, ttl time.Duration) (int64, int64, error) {
	var incr *redis.IntCmd
	var get *redis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, s.prefix+curr)
		p.PExpire(ctx, s.prefix+curr, ttl)
		get = p.Get(ctx, s.prefix+prev)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("redis hit: %w", err)
	}
	pv, err := get.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("redis hit: %w", err)
	}
	return incr.Val(), pv, nil
}

// Incr implements Store.
func (s *Redis) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	var incr *redis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, s.prefix+key, 0, ttl) // a new key starts at 0 with its expiry
		incr = p.Incr(ctx, s.prefix+key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis incr: %w", err)
	}
	return incr.Val(), nil
}

// Decr implements Store.
func (s *Redis) Decr(ctx context.Context, key string) error {
	if err := s.decr.Run(ctx, s.c, []string{s.prefix + key}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis decr: %w", err)
	}
	return nil
}

// Get implements Store.
func (s *Redis) Get(ctx context.Context, key string) (int64, error) {
	v, err := s.c.Get(ctx, s.prefix+key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis get: %w", err)
	}
	return v, nil
}

// Set implements Store.
func (s *Redis) Set(ctx context.Context, key string, v int64, ttl time.Duration) error {
	if err := s.c.Set(ctx, s.prefix+key, v, ttl).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// Del implements Store.
func (s *Redis) Del(ctx context.Context, keys ...string) error {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
	}
	if err := s.c.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("redis del: %w", err)
	}
	return nil
}
