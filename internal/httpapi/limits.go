package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// Limits are the API's rate limits. A rule that is not On limits nothing.
type Limits struct {
	Limiter *ratelimit.Limiter
	// Per client address.
	Login, Register, Password ratelimit.Rule
	// Refresh counts refresh grants at /token (Login counts the password
	// grants there).
	Refresh ratelimit.Rule
	// LoginAccount is per account named in a login (the username or email,
	// lower-cased), from any address.
	LoginAccount ratelimit.Rule
	// Mail is per client address, on the routes that send account mail
	// (verification resend, password reset request); MailRecipient is per
	// account or email address they mail, from any address.
	Mail, MailRecipient ratelimit.Rule
}

// busyRetryAfter is the Retry-After of a 503 for saturated hashing.
const busyRetryAfter = "1"

// limited puts op behind rule, counted per client address. The check runs
// before anything else of the operation (authentication included), and
// the document lists the 429 and the 503 of saturated hashing.
func (a *api) limited(rule ratelimit.Rule, op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	if a.limits.Limiter == nil || !rule.On() {
		return op
	}
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		r, _ := humago.Unwrap(ctx)
		if a.allow(ctx, rule, clientKey(a.clientIP.IP(r))) {
			next(ctx)
		}
	})
	return op
}

// allow counts a request on key against rule and says whether it may go
// on; when not, it has answered 429. A rule that is off allows all.
func (a *api) allow(ctx huma.Context, rule ratelimit.Rule, key string) bool {
	if a.limits.Limiter == nil || !rule.On() {
		return true
	}
	res := a.limits.Limiter.Allow(ctx.Context(), rule, key)
	if !res.Allowed {
		a.metrics.RateLimited(rule.Name)
		a.writeProblem(ctx, a.problem(ctx.Context(), ratelimit.Exceeded(res)))
		return false
	}
	for name, v := range rateHeaders(res) {
		ctx.SetHeader(name, v[0])
	}
	return true
}

// limitAccount counts a login attempt on the account it names.
func (a *api) limitAccount(ctx context.Context, login string) error {
	if a.limits.Limiter == nil || !a.limits.LoginAccount.On() {
		return nil
	}
	rule := a.limits.LoginAccount
	res := a.limits.Limiter.Allow(ctx, rule, strings.ToLower(strings.TrimSpace(login)))
	if res.Allowed {
		return nil
	}
	a.metrics.RateLimited(rule.Name)
	return ratelimit.Exceeded(res)
}

// knownSession marks ctx with the user of a valid bearer token in
// authorization, if any: a login of that same account is not held back by
// its lockout (README: Abuse resistance).
func (a *api) knownSession(ctx context.Context, authorization string) context.Context {
	token, ok := bearerToken(authorization)
	if !ok {
		return ctx
	}
	u, err := a.users.Authenticate(ctx, token)
	if err != nil {
		return ctx
	}
	return user.WithSession(ctx, u.ID)
}

// countLogin counts a login attempt by how it ended.
func (a *api) countLogin(err error) {
	var ex *ratelimit.ExceededError
	switch {
	case err == nil:
		a.metrics.Login("success")
	case errors.Is(err, user.ErrInvalidCredentials):
		a.metrics.Login("failure")
	case errors.As(err, &ex) && ex.Rule.Name == ratelimit.LockoutRule:
		a.metrics.Login("locked")
	case ex != nil:
		a.metrics.Login("rate_limited")
	case errors.Is(err, user.ErrBusy):
		a.metrics.Login("busy")
	default:
		a.metrics.Login("error")
	}
}

// tooManyRequests is the 429 of a refusal, with when to come back.
func tooManyRequests(ex *ratelimit.ExceededError) error {
	return huma.ErrorWithHeaders(newProblem(http.StatusTooManyRequests, ex.Detail), rateHeaders(ex.Result))
}

// busy is the 503 of saturated hashing.
func busy() error {
	return huma.ErrorWithHeaders(newProblem(http.StatusServiceUnavailable, user.ErrBusy.Error()),
		http.Header{"Retry-After": {busyRetryAfter}})
}

// rateHeaders describes res in the headers clients know: the IETF draft's
// RateLimit and RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers),
// the older X-RateLimit-* (Reset as a Unix time, as GitHub and go-chi/httprate
// send it), and Retry-After when refused.
func rateHeaders(res ratelimit.Result) http.Header {
	reset := seconds(res.Reset)
	h := http.Header{
		"Ratelimit-Policy":      {fmt.Sprintf("%q;q=%d;w=%d", res.Rule.Name, res.Rule.Limit, seconds(res.Rule.Window))},
		"Ratelimit":             {fmt.Sprintf("%q;r=%d;t=%d", res.Rule.Name, res.Remaining, reset)},
		"X-Ratelimit-Limit":     {strconv.Itoa(res.Rule.Limit)},
		"X-Ratelimit-Remaining": {strconv.Itoa(res.Remaining)},
		"X-Ratelimit-Reset":     {strconv.FormatInt(time.Now().Add(res.Reset).Unix(), 10)},
	}
	if !res.Allowed {
		h.Set("Retry-After", strconv.Itoa(seconds(res.RetryAfter)))
	}
	return h
}

// clientKey is what the per-address limits count by: an IPv4 address, or
// the /64 of an IPv6 one, since one IPv6 client usually holds a whole /64
// and could otherwise take a fresh address for every request.
func clientKey(addr netip.Addr) string {
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
