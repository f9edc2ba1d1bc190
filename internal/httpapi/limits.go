package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// Limits are the API's rate limits at the edge, per client address (and,
// for mail, per recipient). Everything about login attempts on an account
// is the service's LoginGuard. A rule that is not On limits nothing.
type Limits struct {
	Limiter *ratelimit.Limiter
	// Per client address.
	Login, Register, Password ratelimit.Rule
	// Refresh counts refresh grants at /token (Login counts the password
	// grants there).
	Refresh ratelimit.Rule
	// OAuthFailures counts the refused requests of the OpenID provider's
	// endpoints (its grants at /token, /oauth/introspect, /oauth/revoke);
	// past it, every request of that address there is refused. Their
	// successes are not counted, so a relying party is not held back.
	OAuthFailures ratelimit.Rule
	// Mail is per client address, on the routes that send account mail
	// (verification resend, password reset request); MailRecipient is per
	// account or email address they mail, from any address.
	Mail, MailRecipient ratelimit.Rule
	// Write is per client address, shared by every other route that writes;
	// WriteAccount is per account on those behind a token (per session on
	// the routes that end sessions or change the password: see bySession).
	Write, WriteAccount ratelimit.Rule
	// EmailChange is per account, on the requests that change its email
	// (which also count against Mail per address and MailRecipient per
	// new address).
	EmailChange ratelimit.Rule
	// Export is per account and, in a bucket of its own, per client
	// address.
	Export ratelimit.Rule
}

// refund takes back the count res of a request that turned out not to be
// what its limit is for (a login that proved its password).
func (l Limits) refund(ctx context.Context, res ratelimit.Result) {
	if l.Limiter != nil {
		l.Limiter.Refund(ctx, res)
	}
}

// limited puts op behind rule, counted per client address. The check runs
// before anything else of the operation (authentication included), and
// the document lists the 429 and the 503 of saturated hashing.
func (a *api) limited(rule ratelimit.Rule, op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	if a.limits.Limiter == nil || !rule.On() {
		return op
	}
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		if a.allow(ctx, rule, a.clientKey(ctx)) {
			next(ctx)
		}
	})
	return op
}

// How a limit counts: countAll counts refused requests too, so that a
// client address that keeps hammering stays refused; countAdmitted counts
// only the requests it lets through, for the limits keyed by an account
// or a session, which someone else (an intruder with a stolen token)
// could otherwise keep refused for the owner by hammering.
const (
	countAll      = false
	countAdmitted = true
)

// byAccount puts op, a route behind a token (authed), also behind rule
// counted per account: the check runs once the token is accepted.
func (a *api) byAccount(rule ratelimit.Rule, op huma.Operation) huma.Operation {
	return a.limitedBy(rule, op, func(c user.Caller) string { return ratelimit.AccountKey(c.User.ID) })
}

// bySession is byAccount counted per session of the account, for the
// routes that end sessions or change the password: an intruder's session
// can use up its own count, never the one the owner needs to lock the
// intruder out. Sessions come from logins, which have limits of their own.
func (a *api) bySession(rule ratelimit.Rule, op huma.Operation) huma.Operation {
	return a.limitedBy(rule, op, func(c user.Caller) string { return ratelimit.SessionKey(c.Session.ID) })
}

func (a *api) limitedBy(rule ratelimit.Rule, op huma.Operation, key func(user.Caller) string) huma.Operation {
	op.Errors = append(op.Errors, http.StatusTooManyRequests)
	if a.limits.Limiter == nil || !rule.On() {
		return op
	}
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		c, err := currentCaller(ctx.Context())
		if err != nil { // not behind authed: a mistake in routes.go
			a.writeProblem(ctx, a.problem(ctx.Context(), err))
			return
		}
		k := key(c)
		if info := requestInfoFrom(ctx.Context()); info != nil && info.serviceAccount != "" {
			k = "client:" + info.serviceAccount // a service account has no account or session
		}
		if a.pass(ctx, rule, k, countAdmitted) {
			next(ctx)
		}
	})
	return op
}

// allow counts a request on key against rule and says whether it may go
// on; when not, it has answered 429. A rule that is off allows all. Of
// the rules a request passes, the headers describe the one with the
// fewest requests left.
func (a *api) allow(ctx huma.Context, rule ratelimit.Rule, key string) bool {
	return a.pass(ctx, rule, key, countAll)
}

// pass is allow, counting as admitted says (countAll, countAdmitted).
func (a *api) pass(ctx huma.Context, rule ratelimit.Rule, key string, admitted bool) bool {
	res, err := a.count(ctx.Context(), rule, key, admitted)
	if err != nil {
		a.writeProblem(ctx, a.problem(ctx.Context(), err))
		return false
	}
	info := requestInfoFrom(ctx.Context())
	if info != nil && rule == a.limits.Login {
		info.counted = res // for refund, once the login proves its password
	}
	if !res.Rule.On() || info != nil && info.rateShown && info.rateRemaining <= res.Remaining {
		return true
	}
	for name, v := range rateHeaders(res) {
		ctx.SetHeader(name, v[0])
	}
	if info != nil {
		_, w := humago.Unwrap(ctx)
		info.rateShown, info.rateRemaining, info.rateHeader = true, res.Remaining, w.Header()
	}
	return true
}

// limit counts a request on key against rule: an error for problem when
// it is refused. The refusal's headers replace those of the rules the
// request passed before (allow), so that the answer describes only the
// limit that refused it.
func (a *api) limit(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Result, error) {
	return a.count(ctx, rule, key, countAll)
}

// limitAdmitted is limit counting only the requests it lets through
// (countAdmitted).
func (a *api) limitAdmitted(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Result, error) {
	return a.count(ctx, rule, key, countAdmitted)
}

func (a *api) count(ctx context.Context, rule ratelimit.Rule, key string, admitted bool) (ratelimit.Result, error) {
	if a.limits.Limiter == nil || !rule.On() {
		return ratelimit.Result{Rule: rule, Allowed: true}, nil
	}
	decide := a.limits.Limiter.Allow
	if admitted {
		decide = a.limits.Limiter.Admit
	}
	res := decide(ctx, rule, key)
	if !res.Allowed {
		a.metrics.RateLimited(rule.Name)
		if info := requestInfoFrom(ctx); info != nil && info.rateHeader != nil {
			for _, name := range rateLimitHeaders() {
				info.rateHeader.Del(name)
			}
		}
		return res, ratelimit.Exceeded(res)
	}
	return res, nil
}

// rateHeaders describes res in the headers clients know: the IETF draft's
// RateLimit and RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers),
// the older X-RateLimit-* (Reset as a Unix time, as GitHub and go-chi/httprate
// send it), and Retry-After when refused. An unlimited result has none.
func rateHeaders(res ratelimit.Result) http.Header {
	if !res.Rule.On() {
		return nil
	}
	// A refused request may be retried after RetryAfter, which for the
	// lockout is far past the window's reset: all three headers say the
	// same then, so that a client trusting any one of them is right.
	wait := res.Reset
	if !res.Allowed {
		wait = res.RetryAfter
	}
	reset := seconds(wait)
	h := http.Header{
		"Ratelimit-Policy":      {fmt.Sprintf("%q;q=%d;w=%d", res.Rule.Name, res.Rule.Limit, seconds(res.Rule.Window))},
		"Ratelimit":             {fmt.Sprintf("%q;r=%d;t=%d", res.Rule.Name, res.Remaining, reset)},
		"X-Ratelimit-Limit":     {strconv.Itoa(res.Rule.Limit)},
		"X-Ratelimit-Remaining": {strconv.Itoa(res.Remaining)},
		"X-Ratelimit-Reset":     {strconv.FormatInt(time.Now().Add(wait).Unix(), 10)},
	}
	if !res.Allowed {
		h.Set("Retry-After", strconv.Itoa(reset))
	}
	return h
}

// clientKey is what the per-address limits count the request of ctx by
// (clientip.Key).
func (a *api) clientKey(ctx huma.Context) string {
	r, _ := humago.Unwrap(ctx)
	return addrKey(a.clientIP.IP(r))
}

func addrKey(addr netip.Addr) string { return clientip.Key(addr) }

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// orPeer is the resolver to use: r, or one that trusts no proxy.
func orPeer(r *clientip.Resolver) *clientip.Resolver {
	if r == nil {
		return clientip.New(nil)
	}
	return r
}

// rateLimitHeaders are the response headers of the limits, exposed to
// browsers by CORS.
func rateLimitHeaders() []string {
	return []string{"Retry-After", "RateLimit", "RateLimit-Policy",
		"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
}
