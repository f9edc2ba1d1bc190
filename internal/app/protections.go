package app

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/usersvc/usersvc/internal/breached"
	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/hashpool"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// redisRetry is how long limits stay in memory after Redis fails before
// Redis is tried again.
const redisRetry = 5 * time.Second

// hashQueuePerSlot is the default queue of the hashing pool, per slot,
// which also sizes the waiting room of logins. Deep enough that a flood
// waits (up to USERSVC_HASH_MAX_WAIT, a parked goroutine using no CPU)
// rather than being turned away at once: a client that retries without
// honouring Retry-After spins on its refusals, and on two cores 256 such
// connections beyond a room of 66 took the CPU hashing needed
// (bench/isolation, docs/benchmarks.md "Login floods").
const hashQueuePerSlot = 128

// maxSlowdown is the longest a login is slowed down after failures.
const maxSlowdown = 5 * time.Second

// protections are the defences against abuse: the password hasher, the
// bound on hashing and the waiting room of logins in front of it, the
// login guard, the edge rate limits and the client-address resolver.
type protections struct {
	hasher user.Hasher
	gate   user.HashGate
	room   *hashpool.Room
	guard  user.LoginGuard // nil with rate limits off
	// clients counts wrong client secrets (oauthclient.Deps.Guard); nil
	// with rate limits off.
	clients  oauthclient.SecretGuard
	limits   *httpapi.Limits // nil with rate limits off
	clientIP *clientip.Resolver
}

func (a *App) protections(ctx context.Context, now func() time.Time, gateOverride user.HashGate) (protections, error) {
	cfg := a.cfg
	hasher, err := PasswordHasher(cfg)
	if err != nil {
		return protections{}, err
	}
	pool, err := a.hashGate()
	if err != nil {
		return protections{}, err
	}
	// As many logins as the pool holds, hashing or queued: a login beyond
	// them would be turned away by the pool anyway, after its parse and
	// its lookups.
	st := pool.Stats()
	room, err := hashpool.NewRoom(st.Capacity + st.MaxQueue)
	if err != nil {
		return protections{}, err
	}
	var gate user.HashGate = pool
	if gateOverride != nil {
		gate = gateOverride
	}
	p := protections{hasher: a.metrics.TimeHasher(hasher), gate: gate, room: room, clientIP: clientip.New(cfg.TrustedProxies)}
	if !cfg.RateLimits {
		a.log.Warn("USERSVC_RATE_LIMITS is off: no rate limit and no login or client lockout apply")
		return p, nil
	}
	clock := ratelimit.Clock{Now: now}
	store, err := a.limitStore(ctx, clock)
	if err != nil {
		return protections{}, err
	}
	limiter := ratelimit.NewLimiter(store, clock)
	lockout := ratelimit.NewLockout(store, ratelimit.LockoutPolicy{
		Threshold: cfg.LockoutThreshold, Window: cfg.LockoutWindow, Cooldown: cfg.LockoutCooldown,
		SlowAfter: cfg.SlowdownAfter, Step: cfg.SlowdownStep, MaxDelay: maxSlowdown,
	}, clock)
	lockout.OnLocked = func(ctx context.Context) {
		a.metrics.Lockout()
		a.log.WarnContext(ctx, "account locked after repeated failed logins", "cooldown", cfg.LockoutCooldown.String())
	}
	guard := ratelimit.NewLoginGuard(store, limiter, rule("login-account", cfg.RateLimitLoginAcct), lockout)
	guard.OnLimited = func(r ratelimit.Rule) { a.metrics.RateLimited(r.Name) }
	p.guard = guard
	p.clients = a.clientGuard(store, clock)
	p.limits = &httpapi.Limits{
		Limiter:       limiter,
		Login:         rule("login", cfg.RateLimitLogin),
		Register:      rule("register", cfg.RateLimitRegister),
		Password:      rule("password", cfg.RateLimitPassword),
		Refresh:       rule("refresh", cfg.RateLimitRefresh),
		OAuthFailures: rule("oauth-failures", cfg.RateLimitOAuthFailures),
		Mail:          rule("mail", cfg.RateLimitMail), MailRecipient: rule("mail-recipient", cfg.RateLimitMailRecipient),
		Write: rule("write", cfg.RateLimitWrite), WriteAccount: rule("write-account", cfg.RateLimitWriteAcct),
		EmailChange: rule("email-change", cfg.RateLimitEmailChange),
		Export:      rule("export", cfg.RateLimitExport),
	}
	return p, nil
}

// clientGuard locks a confidential client out at an address after
// USERSVC_CLIENT_LOCKOUT_THRESHOLD wrong secrets from there, over the
// limits' store.
func (a *App) clientGuard(store ratelimit.Store, clock ratelimit.Clock) *ratelimit.ClientGuard {
	cfg := a.cfg
	g := ratelimit.NewClientGuard(store, ratelimit.LockoutPolicy{
		Threshold: cfg.ClientLockoutThreshold, Window: cfg.ClientLockoutWindow, Cooldown: cfg.ClientLockoutCooldown,
	}, clock)
	g.OnLocked = func(ctx context.Context, id, from string) {
		a.log.WarnContext(ctx, "OAuth client locked out after repeated wrong secrets",
			"client_id", id, "client_ip", from, "cooldown", cfg.ClientLockoutCooldown.String())
	}
	return g
}

func rule(name string, r config.Rate) ratelimit.Rule {
	return ratelimit.Rule{Name: name, Limit: r.Limit, Window: r.Window}
}

// hashGate bounds concurrent hashing as configured (by default one slot
// per usable CPU) and publishes the bound's state.
func (a *App) hashGate() (*hashpool.Pool, error) {
	cfg := a.cfg
	a.slots = cfg.HashConcurrency
	if a.slots == 0 {
		a.slots = runtime.GOMAXPROCS(0)
	}
	queue := cfg.HashQueue
	if queue == 0 {
		queue = hashQueuePerSlot * a.slots
	}
	pool, err := hashpool.New(a.slots, queue, cfg.HashMaxWait)
	if err != nil {
		return nil, fmt.Errorf("USERSVC_HASH_CONCURRENCY, USERSVC_HASH_QUEUE: %w", err)
	}
	a.metrics.WatchHashPool(func() metrics.HashPoolStats { return metrics.HashPoolStats(pool.Stats()) })
	return pool, nil
}

// PasswordHasher hashes with the configured scheme and verifies both.
func PasswordHasher(cfg config.Config) (*security.Passwords, error) {
	bc, err := security.NewBcrypt(cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("USERSVC_BCRYPT_COST: %w", err)
	}
	ar, err := security.NewArgon2id(security.Argon2Params{
		MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Iterations, Threads: cfg.Argon2Parallelism,
	})
	if err != nil {
		return nil, fmt.Errorf("USERSVC_ARGON2_*: %w", err)
	}
	var current security.PasswordHasher = bc
	if cfg.PasswordHash == config.HashArgon2id {
		current = ar
	}
	return security.NewPasswords(current, bc, ar), nil
}

// PasswordPolicy is the policy every new password meets.
func PasswordPolicy(cfg config.Config) user.PasswordPolicy {
	return user.PasswordPolicy{MinChars: cfg.PasswordMinLength, Breached: breached.Contains}
}

// limitStore is Redis backed by memory when REDIS_URL is set, memory
// alone otherwise. A Redis that is down at start is no reason not to
// serve: limits hold per replica until it answers.
func (a *App) limitStore(ctx context.Context, clock ratelimit.Clock) (ratelimit.Store, error) {
	cfg, log, m := a.cfg, a.log, a.metrics
	if cfg.RedisURL == "" {
		return ratelimit.NewMemory(clock), nil
	}
	client, err := ratelimit.NewRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL=%s: %w", config.Redact(cfg.RedisURL), err)
	}
	a.onClose(func() { _ = client.Close() })
	// go-redis prints its own failures to stderr, as plain text; ours are
	// reported (once per switch) by OnChange below.
	redis.SetLogger(redisLogger{log})
	fb := ratelimit.NewFallback(ratelimit.NewRedis(client, cfg.RedisPrefix), ratelimit.NewMemory(clock), redisRetry, clock)
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
	return fb, nil
}

// redisLogger sends go-redis's own messages to the service log at debug.
type redisLogger struct {
	log interface {
		DebugContext(ctx context.Context, msg string, args ...any)
	}
}

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
