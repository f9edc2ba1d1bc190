package ratelimit

import (
	"context"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// ClientGuard is oauthclient.SecretGuard: the Lockout of the login guard
// applied to confidential clients' secrets. Wrong secrets presented for
// one client id are counted, from any address (relying parties share
// addresses: an address's count would throttle them for one another's
// mistakes); at the policy's threshold within its window the client is
// refused for the cool-down, its right secret too, so that guessing
// cannot go on. Only failures count, and a success clears nothing: a
// client that authenticates every minute would otherwise wipe out an
// attacker's count as fast as it grows. The registry calls it for
// registered clients only, so a made-up client id, refused anyway,
// leaves nothing in the store.
type ClientGuard struct {
	lockout *Lockout
	// OnLocked is called with the client id when a client gets locked.
	OnLocked func(ctx context.Context, id string)
}

var _ oauthclient.SecretGuard = (*ClientGuard)(nil)

// ClientLockoutRule names the rule of a locked client's ExceededError
// (its RateLimit headers).
const ClientLockoutRule = "client-lockout"

// NewClientGuard returns the guard of p's threshold, window and
// cool-down (never a slowdown) over store.
func NewClientGuard(store Store, p LockoutPolicy, c Clock) *ClientGuard {
	l := NewLockout(store, LockoutPolicy{Threshold: p.Threshold, Window: p.Window, Cooldown: p.Cooldown}, c)
	l.refusal = lockRefusal{ClientLockoutRule, oauthclient.ErrClientLocked}
	return &ClientGuard{lockout: l}
}

// Admit returns nil when client id may authenticate now, else an
// *ExceededError wrapping oauthclient.ErrClientLocked.
func (g *ClientGuard) Admit(ctx context.Context, id string) error {
	return g.lockout.Check(ctx, ClientKey(id))
}

// Failed counts a wrong secret presented for client id.
func (g *ClientGuard) Failed(ctx context.Context, id string) {
	if g.lockout.Failed(ctx, ClientKey(id)) && g.OnLocked != nil {
		g.OnLocked(ctx, id)
	}
}
