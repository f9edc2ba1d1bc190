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
	// Mail is per client address, on the routes that send account mail
	// (verification resend, password reset request); MailRecipient is per
	// account or email address they mail, from any address.
	Mail, MailRecipient ratelimit.Rule
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

// allow counts a request on key against rule and says whether it may go
// on; when not, it has answered 429. A rule that is off allows all.
func (a *api) allow(ctx huma.Context, rule ratelimit.Rule, key string) bool {
	res, err := a.limit(ctx.Context(), rule, key)
	if err != nil {
		a.writeProblem(ctx, a.problem(ctx.Context(), err))
		return false
	}
	for name, v := range rateHeaders(res) {
		ctx.SetHeader(name, v[0])
	}
	return true
}

// limit counts a request on key against rule: an error for problem when
// it is refused.
func (a *api) limit(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Result, error) {
	if a.limits.Limiter == nil || !rule.On() {
		return ratelimit.Result{Rule: rule, Allowed: true}, nil
	}
	res := a.limits.Limiter.Allow(ctx, rule, key)
	if !res.Allowed {
		a.metrics.RateLimited(rule.Name)
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

// clientKey is what the per-address limits count the request of ctx by:
// an IPv4 address, or the /64 of an IPv6 one, since one IPv6 client
// usually holds a whole /64 and could otherwise take a fresh address for
// every request.
func (a *api) clientKey(ctx huma.Context) string {
	r, _ := humago.Unwrap(ctx)
	return addrKey(a.clientIP.IP(r))
}

func addrKey(addr netip.Addr) string {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

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
