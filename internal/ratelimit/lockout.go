package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// LockoutPolicy says when repeated failed logins slow an account down and
// lock it. Failures are counted per account, from any address, in a window
// that starts with the first failure. From SlowAfter failures on, every
// attempt waits Step more (at most MaxDelay); at Threshold the account is
// refused for Cooldown, after which the count starts again. A successful
// login clears the count. Nothing locks an account for good.
//
// At most Threshold failures fit in one Window or one Cooldown, so an
// attacker gets at most Threshold * (1h/min(Window, Cooldown) + 1) guesses
// an hour; config keeps that within OWASP ASVS's 100.
type LockoutPolicy struct {
	Threshold int
	Window    time.Duration
	Cooldown  time.Duration
	SlowAfter int
	Step      time.Duration
	MaxDelay  time.Duration
}

// Lockout applies a LockoutPolicy over a Store; LoginGuard puts it behind
// user.LoginGuard, ClientGuard behind oauthclient.SecretGuard.
type Lockout struct {
	store Store
	p     LockoutPolicy
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// refusal is what Check's refusal says: an account's by default.
	refusal lockRefusal
	// OnLocked is called when an account gets locked.
	OnLocked func(ctx context.Context)
}

// lockRefusal is what a lockout's ExceededError says: the name of its
// rule (the RateLimit headers) and the error it wraps, whose text starts
// its detail.
type lockRefusal struct {
	rule string
	kind error
}

// NewLockout returns a lockout with policy p over store, of accounts:
// its refusals wrap user.ErrLocked.
func NewLockout(store Store, p LockoutPolicy, c Clock) *Lockout {
	return &Lockout{store: store, p: p, now: c.now, sleep: c.sleep,
		refusal: lockRefusal{LockoutRule, user.ErrLocked}}
}

// LockoutRule names the rule of a lockout's ExceededError (its RateLimit
// headers).
const LockoutRule = "login-lockout"

func failKey(account string) string { return "lo:f:" + hashKey(account) }
func lockKey(account string) string { return "lo:l:" + hashKey(account) }

// Check refuses an attempt on a locked account with an *ExceededError and
// slows an attempt on an account with SlowAfter failures or more.
func (l *Lockout) Check(ctx context.Context, account string) error {
	now := l.now()
	until, _ := l.store.Get(ctx, lockKey(account))
	if left := time.Duration(until - now.UnixMilli()); until > 0 && left > 0 {
		left *= time.Millisecond
		r := Result{Rule: Rule{Name: l.refusal.rule, Limit: l.p.Threshold, Window: l.p.Window}, RetryAfter: left, Reset: left}
		return &ExceededError{Result: r, kind: l.refusal.kind, Detail: fmt.Sprintf(
			"%s: try again in %d seconds", l.refusal.kind, int(math.Ceil(left.Seconds())))}
	}
	if l.p.SlowAfter <= 0 || l.p.Step <= 0 {
		return nil
	}
	fails, _ := l.store.Get(ctx, failKey(account))
	if over := fails - int64(l.p.SlowAfter) + 1; over > 0 {
		d := min(time.Duration(over)*l.p.Step, l.p.MaxDelay)
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// Failed counts a failure and locks the account at the threshold; it
// reports whether this failure locked it.
func (l *Lockout) Failed(ctx context.Context, account string) (locked bool) {
	n, err := l.store.Incr(ctx, failKey(account), l.p.Window)
	if err != nil || n < int64(l.p.Threshold) {
		return false
	}
	until := l.now().Add(l.p.Cooldown).UnixMilli()
	_ = l.store.Set(ctx, lockKey(account), until, l.p.Cooldown)
	_ = l.store.Del(ctx, failKey(account))
	if l.OnLocked != nil {
		l.OnLocked(ctx)
	}
	return true
}

// Succeeded clears the account's failures.
func (l *Lockout) Succeeded(ctx context.Context, account string) {
	_ = l.store.Del(ctx, failKey(account))
}
