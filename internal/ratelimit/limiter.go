package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// Rule is one limit: at most Limit requests per Window for each key. A
// Limit of 0 or less switches the rule off.
type Rule struct {
	Name   string // short and stable: it is part of the store key and the RateLimit header
	Limit  int
	Window time.Duration
}

// On reports whether the rule limits anything.
func (r Rule) On() bool { return r.Limit > 0 && r.Window > 0 }

// Result is the decision on one request.
type Result struct {
	Rule       Rule
	Allowed    bool
	Remaining  int           // requests left in the window after this one
	Reset      time.Duration // until the current window ends
	RetryAfter time.Duration // when refused: until a request would be allowed again
	counted    string        // the store key of the window the request was counted in, "" if none
}

// Limiter applies sliding-window rules over a Store. The window is the
// "sliding window counter" of Cloudflare and go-chi/httprate: the count of
// the current fixed window plus the previous window's count weighted by how
// much of it still overlaps the sliding window. Refused requests count too,
// so a client that keeps hammering stays refused.
type Limiter struct {
	store Store
	now   func() time.Time
}

// NewLimiter returns a limiter over store.
func NewLimiter(store Store, c Clock) *Limiter { return &Limiter{store: store, now: c.now} }

// Allow counts one request of key under rule and says whether it may
// proceed. Refused requests count too, so a client that keeps hammering
// stays refused. A store error lets the request through: wrap Redis in
// Fallback so that there are none.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) Result {
	return l.decide(ctx, rule, key, true)
}

// Admit is Allow that counts only the requests it lets through: a refused
// one changes nothing, so that refusals cannot keep a key refused (the
// login attempts of an account, which an attacker must not be able to
// keep blocked for its owner by hammering).
func (l *Limiter) Admit(ctx context.Context, rule Rule, key string) Result {
	return l.decide(ctx, rule, key, false)
}

// Check says whether one more request of key would be allowed under rule
// now, counting nothing: for a limit that counts only some requests (the
// failed ones, known once answered), which Allow then counts.
func (l *Limiter) Check(ctx context.Context, rule Rule, key string) Result {
	if !rule.On() {
		return Result{Rule: rule, Allowed: true, Remaining: math.MaxInt32}
	}
	elapsed, currKey, prevKey := l.windows(rule, key)
	curr, err1 := l.store.Get(ctx, currKey)
	prev, err2 := l.store.Get(ctx, prevKey)
	if err1 != nil || err2 != nil {
		return Result{Rule: rule, Allowed: true}
	}
	res := judge(rule, elapsed, curr+1, prev)
	if !res.Allowed {
		// The refused request is not counted: it is curr, not curr+1,
		// that has to slide out before one more passes.
		res.RetryAfter = retryAfter(rule.Window, elapsed, float64(curr), float64(prev), float64(rule.Limit))
	}
	return res
}

// decide is Allow (countRefused) or Admit.
func (l *Limiter) decide(ctx context.Context, rule Rule, key string, countRefused bool) Result {
	if !rule.On() {
		return Result{Rule: rule, Allowed: true, Remaining: math.MaxInt32}
	}
	elapsed, currKey, prevKey := l.windows(rule, key)
	if !countRefused {
		if res := l.Check(ctx, rule, key); !res.Allowed {
			return res
		}
	}
	curr, prev, err := l.store.Hit(ctx, currKey, prevKey, 2*rule.Window)
	if err != nil {
		return Result{Rule: rule, Allowed: true}
	}
	res := judge(rule, elapsed, curr, prev)
	res.counted = currKey
	return res
}

// Refund takes back the count of the request that Allow or Admit decided
// res on (in the window it was counted in), for a limit that counts only
// the requests that turn out to fail and yet must count every request
// while it is under way, so that a burst sent at once is bounded too (a
// login from a shared address: those that prove their password are not
// counted). A result that counted nothing changes nothing.
func (l *Limiter) Refund(ctx context.Context, res Result) {
	if res.counted != "" {
		_ = l.store.Decr(ctx, res.counted) // a store error keeps the count: the stricter side
	}
}

// windows is how far now is into rule's current window, and the store
// keys of key's counts in that window and the one before.
func (l *Limiter) windows(rule Rule, key string) (elapsed time.Duration, currKey, prevKey string) {
	win := int64(rule.Window)
	now := l.now().UnixNano()
	idx := now / win
	base := "rl:" + rule.Name + ":" + hashKey(key) + ":"
	return time.Duration(now - idx*win), base + strconv.FormatInt(idx, 10), base + strconv.FormatInt(idx-1, 10)
}

// judge decides on the counts of the current and the previous window,
// elapsed into the current one.
func judge(rule Rule, elapsed time.Duration, curr, prev int64) Result {
	weight := 1 - float64(elapsed)/float64(rule.Window)
	estimate := float64(prev)*weight + float64(curr)
	limit := float64(rule.Limit)
	res := Result{
		Rule:      rule,
		Allowed:   estimate <= limit,
		Remaining: max(0, int(limit-estimate)),
		Reset:     rule.Window - elapsed,
	}
	if !res.Allowed {
		res.RetryAfter = retryAfter(rule.Window, elapsed, float64(curr), float64(prev), limit)
	}
	return res
}

// retryAfter is how long until one more request would be allowed, if none
// comes meanwhile, rounded up to whole seconds.
func retryAfter(window, elapsed time.Duration, curr, prev, limit float64) time.Duration {
	var wait time.Duration
	if curr+1 > limit {
		// Only once this window is the previous one, and enough of it has
		// slid out: curr * (1 - e/window) + 1 <= limit.
		wait = window - elapsed + time.Duration(float64(window)*(1-(limit-1)/curr))
	} else {
		// Within this window: prev * (1 - (elapsed+t)/window) + curr + 1 <= limit.
		wait = time.Duration(float64(window)*(1-(limit-curr-1)/prev)) - elapsed
	}
	return max(time.Second, wait.Truncate(time.Second)+time.Second)
}

// hashKey keeps client addresses and account names out of the store's key
// space (they are personal data) while keeping keys short.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// ExceededError refuses a request over a rate limit (it wraps
// user.ErrRateLimited) or on a locked account (user.ErrLocked), and says
// when to come back.
type ExceededError struct {
	Result
	// Detail says why, for the client.
	Detail string
	kind   error // user.ErrRateLimited or user.ErrLocked
}

func (e *ExceededError) Error() string { return e.Detail }

// Unwrap returns user.ErrRateLimited or user.ErrLocked, so callers tell
// the two apart with errors.Is.
func (e *ExceededError) Unwrap() error { return e.kind }

// Exceeded returns the refusal for a result that is not Allowed.
func Exceeded(r Result) *ExceededError {
	return &ExceededError{Result: r, kind: user.ErrRateLimited, Detail: fmt.Sprintf(
		"too many requests: the limit is %d per %s; try again in %d seconds",
		r.Rule.Limit, r.Rule.Window, int(math.Ceil(r.RetryAfter.Seconds())))}
}
