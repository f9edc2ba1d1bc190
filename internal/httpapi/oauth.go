package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// oauthPrefix is where the OpenID provider's endpoints are;
// authorizePath its authorization endpoint.
const (
	oauthPrefix   = "/oauth/"
	authorizePath = oauthPrefix + "authorize"
)

// limitAuthorize puts the provider's authorization endpoint under the
// Write limit per client address, counted with the other writes: every
// request there that names a registered client and redirect URI stores an
// authorization request, with no account or token behind it, so without a
// limit one address could fill the database (it answers 429 as the API
// does). The provider's other endpoints pass.
func (a *api) limitAuthorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authorizePath {
			if _, err := a.limit(r.Context(), a.limits.Write, addrKey(a.clientIP.IP(r))); err != nil {
				WriteError(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// delegateGrants hands the /token requests the OpenID provider takes (the
// authorization_code and client_credentials grants, and its own refresh
// tokens), and the /revoke requests of its tokens, to it, after the body
// limit and the waiting room, saying who calls (withCaller), unless their
// client is locked out at the caller's address (clientLocked); every
// other one goes on to the token or revocation operation as before. The
// form is read once here and put back for whoever answers.
func (a *api) delegateGrants(o *OAuth) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, form := providersRequest(o, r)
			if h == nil {
				next.ServeHTTP(w, r)
				return
			}
			r = a.withCaller(r)
			if !a.tooManyFailures(w, r) && !a.clientLocked(w, r, form) {
				a.countFailures(h, w, r)
			}
		})
	}
}

// providersRequest is the provider's handler of r, with r's form, when r
// is a /token or /revoke request that is the provider's; nil otherwise.
func providersRequest(o *OAuth, r *http.Request) (http.Handler, url.Values) {
	if r.Method != http.MethodPost || (r.URL.Path != tokenPath && r.URL.Path != pathRevoke) {
		return nil, nil
	}
	form, ok := peekForm(r)
	switch {
	case !ok:
		return nil, nil
	case r.URL.Path == tokenPath && o.Takes(form.Get("grant_type"), form.Get("refresh_token")):
		return o.Token, form
	case r.URL.Path == pathRevoke && o.Revoke != nil && o.Revokes(form.Get("token")):
		return o.Revoke, form
	}
	return nil, nil
}

// guardClients answers the requests of the OpenID provider's endpoints
// that authenticate a client by its secret (introspection, revocation)
// while their client is locked out (clientLocked), and hands every other
// one to h, those saying who calls (withCaller).
func (a *api) guardClients(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == oidcop.IntrospectPath || r.URL.Path == oidcop.RevokePath) {
			r = a.withCaller(r)
			if a.tooManyFailures(w, r) {
				return
			}
			if form, ok := peekForm(r); ok && a.clientLocked(w, r, form) {
				return
			}
			a.countFailures(h, w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// tooManyFailures answers r, a request to one of the OpenID provider's
// endpoints that authenticate a client (its grants at /token,
// introspection, revocation), with 429 while r's address is over the
// OAuthFailures limit, and reports whether it did. The check counts
// nothing: countFailures counts the requests refused once answered.
//
// Why failures only: one relying party's servers exchange codes and
// refresh tokens for all its users from a few addresses, so a limit on
// every request would throttle a busy one; what a prober from one address
// makes (unknown client ids, wrong secrets, bad codes or refresh tokens)
// is refused, and only that is counted. Once over, the address is refused
// there whatever it sends, so a prober cannot hide its guesses among
// successes.
func (a *api) tooManyFailures(w http.ResponseWriter, r *http.Request) bool {
	rule := a.limits.OAuthFailures
	if a.limits.Limiter == nil || !rule.On() {
		return false
	}
	res := a.limits.Limiter.Check(r.Context(), rule, addrKey(a.clientIP.IP(r)))
	if res.Allowed {
		return false
	}
	a.metrics.RateLimited(rule.Name)
	var p answer
	if !errors.As(a.tokenError(r.Context(), ratelimit.Exceeded(res)), &p) {
		p = newProblem(http.StatusInternalServerError, codeInternal, internalError)
	}
	writeRefusal(w, p)
	return true
}

// countFailures serves r with h and counts it against the OAuthFailures
// limit of its address when h refused it (400: a bad code or token, an
// unknown grant; 401: client authentication failed) and the refusal may
// be a guess (oidcop.FailureNote): not once its client proved its secret.
// A confidential relying party's users make it send refused grants from
// its address (a code sent again from a reloaded callback page, or made
// up; an expired refresh token), and any of them can on purpose: counted,
// they throttled the relying party's sign-ins for all its users.
func (a *api) countFailures(h http.Handler, w http.ResponseWriter, r *http.Request) {
	rule := a.limits.OAuthFailures
	if a.limits.Limiter == nil || !rule.On() {
		h.ServeHTTP(w, r)
		return
	}
	ctx, note := oidcop.WithFailureNote(r.Context())
	rec := &recorder{ResponseWriter: w}
	h.ServeHTTP(rec, r.WithContext(ctx))
	if s := rec.statusCode(); (s == http.StatusBadRequest || s == http.StatusUnauthorized) && note.MayBeGuess() {
		a.limits.Limiter.Allow(r.Context(), rule, addrKey(a.clientIP.IP(r)))
	}
}

// peekForm reads r's body as a form, when it is one, and puts it back for
// whoever answers r; ok is false for another content type or a body that
// cannot be read (over the limit: whoever answers says so) or parsed.
func peekForm(r *http.Request) (form url.Values, ok bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formURLEncoded {
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, err = url.ParseQuery(string(body))
	return form, err == nil
}

// clientLocked answers r, a request the OpenID provider would
// authenticate a client in (withCaller's), when that client (the user of
// its HTTP Basic header, else its client_id) is locked out at r's address
// after wrong secrets from there: 429 with
// Retry-After, in the RFC 6749 form every /token error has
// (oauthclient.ErrClientLocked), where the provider could only say
// invalid_client. It reports whether it answered.
func (a *api) clientLocked(w http.ResponseWriter, r *http.Request, form url.Values) bool {
	if a.clients == nil {
		return false
	}
	id := form.Get("client_id")
	if name, _, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(name) // as the provider reads it
	}
	if id == "" {
		return false
	}
	err := a.clients.Admit(r.Context(), id, user.ClientFrom(r.Context()).IP)
	if err == nil {
		return false
	}
	var p answer
	if !errors.As(a.tokenError(r.Context(), err), &p) {
		p = newProblem(http.StatusInternalServerError, codeInternal, internalError)
	}
	writeRefusal(w, p)
	return true
}

// withCaller is r saying who calls (user.WithClient: user agent,
// address, request id), as withClient says it to the API's operations:
// the provider authenticates clients by it (the lockout counts per
// address) and records it with what it audits.
func (a *api) withCaller(r *http.Request) *http.Request {
	c := user.Client{UserAgent: r.UserAgent(), IP: a.clientIP.IP(r).String()}
	if info := requestInfoFrom(r.Context()); info != nil {
		c.RequestID = info.requestID
	}
	return r.WithContext(user.WithClient(r.Context(), c))
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
