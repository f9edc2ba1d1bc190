package ratelimit

import (
	"context"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// LoginGuard is user.LoginGuard: everything about login attempts on one
// account, after OWASP's device cookies. An attempt from a device that
// proved itself on this account before (LoginAttempt.Device) is counted,
// limited and locked out per device, and is never held back by failures
// from anywhere else; every other attempt is counted, limited and locked
// out per account (the account's untrusted devices together). Only
// attempts let through count: a refused one changes nothing. Identical
// wrong attempts within duplicateWindow count once, towards the rate and
// the lockout (clients that send a failed login twice, as
// golang.org/x/oauth2 does by default).
type LoginGuard struct {
	limiter *Limiter
	rate    Rule
	lockout *Lockout
	store   Store
	// OnLimited is called with the rule of every refusal by Rate (metrics).
	OnLimited func(Rule)
}

// duplicateWindow is how long an identical wrong attempt counts as the
// same one.
const duplicateWindow = time.Minute

var _ user.LoginGuard = (*LoginGuard)(nil)

// NewLoginGuard returns the guard of rate (per account, or per trusted
// device) and lockout, over store. A rule that is off, or a nil lockout,
// checks nothing.
func NewLoginGuard(store Store, limiter *Limiter, rate Rule, lockout *Lockout) *LoginGuard {
	return &LoginGuard{limiter: limiter, rate: rate, lockout: lockout, store: store}
}

// bucket is whose count an attempt is in: its trusted device's, or its
// account's.
func bucket(a user.LoginAttempt) string {
	if a.Device != "" {
		return "dev:" + a.Device
	}
	return a.Key
}

// Admit counts the attempt against the rate of its bucket (only when it is
// let through) and checks (and waits out) the bucket's lockout.
func (g *LoginGuard) Admit(ctx context.Context, a user.LoginAttempt) error {
	b := bucket(a)
	if g.lockout != nil {
		if err := g.lockout.Check(ctx, b); err != nil {
			return err
		}
	}
	if g.rate.On() && !g.repeated(ctx, a) {
		if res := g.limiter.Admit(ctx, g.rate, b); !res.Allowed {
			if g.OnLimited != nil {
				g.OnLimited(g.rate)
			}
			return Exceeded(res)
		}
	}
	return nil
}

// repeated reports whether a is identical to a wrong attempt within
// duplicateWindow, which was counted already.
func (g *LoginGuard) repeated(ctx context.Context, a user.LoginAttempt) bool {
	if a.Fingerprint == "" {
		return false
	}
	n, err := g.store.Get(ctx, dupKey(a))
	return err == nil && n > 0
}

func dupKey(a user.LoginAttempt) string {
	return "lo:dup:" + hashKey(bucket(a)+"\x00"+a.Fingerprint)
}

// Failed counts a failure towards the lockout of the attempt's bucket,
// once for identical attempts within duplicateWindow.
func (g *LoginGuard) Failed(ctx context.Context, a user.LoginAttempt) {
	if g.lockout == nil {
		return
	}
	if a.Fingerprint != "" {
		n, err := g.store.Incr(ctx, dupKey(a), duplicateWindow)
		if err == nil && n > 1 {
			return
		}
	}
	g.lockout.Failed(ctx, bucket(a))
}

// Succeeded clears the failures of the attempt's bucket.
func (g *LoginGuard) Succeeded(ctx context.Context, a user.LoginAttempt) {
	if g.lockout != nil {
		g.lockout.Succeeded(ctx, bucket(a))
	}
}
