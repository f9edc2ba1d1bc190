package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/usersvc/usersvc/internal/user"
)

// The waiting room of /token. A login costs a password verification, the
// most expensive thing the service does, and a flood of clients that retry
// a refusal at once spins on it: every refusal that reaches the handler
// costs the form's parse and huma's work, and the spinning takes the CPU
// that hashing needs. So /token requests enter a bounded room (hashing or
// waiting for a slot: hashpool.Room, sized by internal/app from the
// hashing pool) before anything of them is read, and those beyond it get
// an answer written in advance. Measured by bench/isolation
// (docs/benchmarks.md, "Login floods").

// LoginRoom is the waiting room of /token requests (hashpool.Room).
type LoginRoom interface {
	// Enter takes a place, or says at once that there is none; leave
	// gives it back.
	Enter() (leave func(), ok bool)
}

// loginPath is the path of /token; a request the room turns away is
// logged and counted under the route the mux would have named.
const (
	loginPath  = "/api/v1/token"
	loginRoute = http.MethodPost + " " + loginPath
)

// errShed is a /token request turned away at the full waiting room: a 503
// with Retry-After, the same answer as saturated hashing.
var errShed = fmt.Errorf("%w: the login waiting room is full", user.ErrBusy)

// admitLogins puts /token behind room. A request that finds the room full
// is refused before its body is read, unless it is a refresh grant, which
// never hashes: telling that needs a look at the (small, bounded) body,
// but no parse.
func (a *api) admitLogins(room LoginRoom) func(http.Handler) http.Handler {
	shed := a.cannedTokenError(errShed)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != loginPath {
				next.ServeHTTP(w, r)
				return
			}
			if leave, ok := room.Enter(); ok {
				defer leave()
				next.ServeHTTP(w, r)
				return
			}
			if refreshGrant(r) {
				next.ServeHTTP(w, r)
				return
			}
			if info := requestInfoFrom(r.Context()); info != nil {
				info.route = loginRoute
			}
			a.metrics.Login("busy")
			shed.write(w)
		})
	}
}

// refreshGrant reports whether r's body holds exactly one grant_type
// field, spelt refresh_token, and then puts back what it read. The
// handler's parse refuses anything else in such a body (a second
// grant_type included), so a password grant can never pass for a refresh
// one; a body spelt any other way, or too large, counts as a login.
func refreshGrant(r *http.Request) bool {
	body, err := io.ReadAll(r.Body) // at most the body limit (limitBody)
	if err != nil {
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	grants, refresh := 0, false
	for field := range bytes.SplitSeq(body, []byte("&")) {
		name, value, _ := bytes.Cut(field, []byte("="))
		if string(name) == "grant_type" {
			grants++
			refresh = string(value) == grantRefresh
		}
	}
	return grants == 1 && refresh
}

// canned is an error answer made once, for a refusal that must cost
// nothing but its write.
type canned struct {
	status             int
	contentType, retry []string
	body               []byte
}

// cannedTokenError makes err's answer on /token (through the error table,
// as an OAuth2 error) in advance.
func (a *api) cannedTokenError(err error) canned {
	var t *tokenProblem
	if !errors.As(a.tokenError(context.Background(), err), &t) {
		panic("httpapi: no answer for " + err.Error()) // the error table lacks a row: a bug of ours
	}
	body, jerr := json.Marshal(t)
	if jerr != nil {
		panic("httpapi: marshal a canned answer: " + jerr.Error())
	}
	return canned{status: t.Status, contentType: []string{jsonType},
		retry: t.headers["Retry-After"], body: append(body, '\n')}
}

// write sends c. Its header values are shared, never written into (see
// securityHeaders).
func (c canned) write(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = c.contentType
	if c.retry != nil {
		h["Retry-After"] = c.retry
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body)
}
