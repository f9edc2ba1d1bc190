package ratelimit

import (
	"context"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// ClientGuard is oauthclient.SecretGuard: the Lockout of the login guard
// applied to confidential clients' secrets, per client id and address.
// Wrong secrets presented for one client id from one address (an IPv6
// /64 counting as one, as the per-address limits count it) are counted;
// at the policy's threshold within its window that client is refused
// from that address for the cool-down, its right secret too, so that
// guessing from there cannot go on.
//
// Why per address, and not per client id from anywhere: a client id is
// no secret (it is in every authorize URL, in browsers' histories, in
// logs), so a count per client id let anyone who knew one keep its
// relying party locked out with ten requests every cool-down. Counted
// per address, an attacker locks out only their own address for that
// client; the relying party, calling from its own addresses, goes on.
// The login guard meets the same problem with device cookies (an
// attempt from a device that proved itself is never held back by others'
// failures); a client has no such token to show but its secret, and its
// servers' addresses change with every deployment, so remembering the
// addresses it succeeded from would lock out its next new one. What a
// count per address gives up is a limit on guessing from many addresses
// at once; the secrets are 256 random bits (newSecret), which nobody
// guesses, so the lockout's worth is detection (OnLocked, once per
// client and address) and slowing down one that knows part of a secret
// or a misconfigured client, both of which an address count does.
//
// Only failures count, and a success clears nothing: a client that
// authenticates every minute would otherwise wipe out an attacker's count
// as fast as it grows (the address of a client behind a shared proxy may
// be the attacker's too). The registry calls it for registered clients
// only, so a made-up client id, refused anyway, leaves nothing in the
// store.
type ClientGuard struct {
	lockout *Lockout
	// OnLocked is called with the client id and the address (as the
	// caller gave it) when a client gets locked out at that address.
	OnLocked func(ctx context.Context, id, from string)
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

// Admit returns nil when client id may authenticate from address from
// now, else an *ExceededError wrapping oauthclient.ErrClientLocked.
func (g *ClientGuard) Admit(ctx context.Context, id, from string) error {
	return g.lockout.Check(ctx, ClientKey(id, from))
}

// Failed counts a wrong secret presented for client id from address from.
func (g *ClientGuard) Failed(ctx context.Context, id, from string) {
	if g.lockout.Failed(ctx, ClientKey(id, from)) && g.OnLocked != nil {
		g.OnLocked(ctx, id, from)
	}
}
