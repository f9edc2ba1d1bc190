package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/hashpool"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// redisRetry is how long limits stay in memory after Redis fails before
// Redis is tried again.
const redisRetry = 5 * time.Second

// protections are the defences against abuse that serve wires in: the
// password hasher and policy, the bound on hashing, the login lockout, the
// rate limits and the client-address resolver.
type protections struct {
	hasher   user.Hasher
	options  []user.Option
	limits   *httpapi.Limits
	clientIP *clientip.Resolver
	close    func()
}

func newProtections(ctx context.Context, cfg config.Config, environ []string, m *metrics.Metrics, log *slog.Logger) (*protections, error) {
	hasher, err := passwordHasher(cfg)
	if err != nil {
		return nil, err
	}
	concurrency := cfg.HashConcurrency
	if concurrency == 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	spareProcessor(concurrency, environ, log)
	queue := cfg.HashQueue
	if queue == 0 {
		// Deep enough that a flood waits (up to HashMaxWait) rather than
		// being turned away at once: a client that retries without
		// honouring Retry-After would otherwise spin on cheap 503s.
		queue = 32 * concurrency
	}
	pool, err := hashpool.New(concurrency, queue, cfg.HashMaxWait)
	if err != nil {
		return nil, err
	}
	m.WatchHashPool(func() metrics.HashPoolStats { return metrics.HashPoolStats(pool.Stats()) })
	p := &protections{
		hasher:   hasher,
		clientIP: clientip.New(cfg.TrustedProxies),
		close:    func() {},
		options: []user.Option{
			user.WithHashGate(pool),
			user.WithPasswordPolicy(passwordPolicy(cfg)),
			user.WithRehashErrors(func(ctx context.Context, err error) {
				log.WarnContext(ctx, "re-hash of a password on login failed; the old hash stays", "error", err)
			}),
		},
	}
	if !cfg.RateLimits {
		log.Warn("USERSVC_RATE_LIMITS is off: no rate limit and no login lockout apply")
		return p, nil
	}
	store, closeStore, err := limitStore(ctx, cfg, m, log)
	if err != nil {
		return nil, err
	}
	p.close = closeStore
	lockout := ratelimit.NewLockout(store, ratelimit.LockoutPolicy{
		Threshold: cfg.LockoutThreshold, Window: cfg.LockoutWindow, Cooldown: cfg.LockoutCooldown,
		SlowAfter: cfg.SlowdownAfter, Step: cfg.SlowdownStep, MaxDelay: 5 * time.Second,
	})
	lockout.OnLocked = func(ctx context.Context) {
		m.Lockout()
		log.WarnContext(ctx, "account locked after repeated failed logins", "cooldown", cfg.LockoutCooldown.String())
	}
	p.options = append(p.options, user.WithLoginGuard(lockout))
	rule := func(name string, r config.Rate) ratelimit.Rule {
		return ratelimit.Rule{Name: name, Limit: r.Limit, Window: r.Window}
	}
	p.limits = &httpapi.Limits{
		Limiter:      ratelimit.NewLimiter(store),
		Login:        rule("login", cfg.RateLimitLogin),
		LoginAccount: rule("login-account", cfg.RateLimitLoginAcct),
		Register:     rule("register", cfg.RateLimitRegister),
		Password:     rule("password", cfg.RateLimitPassword),
		Refresh:      rule("refresh", cfg.RateLimitRefresh),
		// lifecycle.go
		Mail:          rule("mail", cfg.RateLimitMail),
		MailRecipient: rule("mail-recipient", cfg.RateLimitMailRecipient),
	}
	return p, nil
}

// passwordHasher hashes with the configured scheme and verifies both.
func passwordHasher(cfg config.Config) (*security.Passwords, error) {
	bc, err := security.NewBcrypt(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	ar, err := security.NewArgon2id(security.Argon2Params{
		MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Iterations, Threads: cfg.Argon2Parallelism,
	})
	if err != nil {
		return nil, err
	}
	var current security.PasswordHasher = bc
	if cfg.PasswordHash == config.HashArgon2id {
		current = ar
	}
	return security.NewPasswords(current, bc, ar), nil
}

// limitStore is Redis backed by memory when REDIS_URL is set, memory
// alone otherwise. A Redis that is down at start is no reason not to
// serve: limits hold per replica until it answers.
func limitStore(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (ratelimit.Store, func(), error) {
	if cfg.RedisURL == "" {
		return ratelimit.NewMemory(), func() {}, nil
	}
	client, err := ratelimit.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// go-redis prints its own failures to stderr, as plain text; ours are
	// reported (once per switch) by OnChange below.
	redis.SetLogger(redisLogger{log})
	fb := ratelimit.NewFallback(ratelimit.NewRedis(client, cfg.RedisPrefix), ratelimit.NewMemory(), redisRetry)
	fb.OnError = func(error) { m.RedisError() }
	fb.OnChange = func(degraded bool, err error) {
		m.LimitsDegraded(degraded)
		if degraded {
			log.Error("Redis for rate limits is unreachable: counting limits in this process only until it answers",
				"error", err.Error(), "retry", redisRetry.String())
			return
		}
		log.Info("Redis for rate limits answers again: limits are shared across replicas")
	}
	if err := client.Ping(ctx).Err(); err != nil {
		log.Error("Redis for rate limits is unreachable at start: counting limits in this process only until it answers", "error", err.Error())
	} else {
		log.Info("rate limits and lockouts are shared through Redis", "prefix", cfg.RedisPrefix)
	}
	return fb, func() { _ = client.Close() }, nil
}

// redisLogger sends go-redis's own messages to the service log at debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// spareProcessor lets Go run one goroutine more than there are hashing
// slots (GOMAXPROCS = slots + 1), unless GOMAXPROCS is set in the
// environment. With every slot hashing, a cheap request then runs at once
// on the spare processor and the kernel shares the cores, instead of
// waiting for the Go scheduler to preempt a hash (up to 10 ms per wait).
// A login flood keeps the hashing threads busy either way.
func spareProcessor(slots int, environ []string, log *slog.Logger) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return
		}
	}
	if runtime.GOMAXPROCS(0) <= slots {
		runtime.GOMAXPROCS(slots + 1)
		log.Debug("GOMAXPROCS raised to leave a processor to requests that do not hash", "gomaxprocs", slots+1)
	}
}
