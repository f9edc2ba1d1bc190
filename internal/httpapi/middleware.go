package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// requestIDHeader carries the request id in, when the caller has one, and
// always out.
const requestIDHeader = "X-Request-ID"

// requestIDKey is requestIDHeader as net/http keeps it in a Header map, so
// that setting it needs no canonicalisation (an allocation per request).
const requestIDKey = "X-Request-Id"

// logger returns the request's logger, whose lines carry its request id
// (and user_id once authenticated).
func logger(ctx context.Context) *slog.Logger {
	if info := requestInfoFrom(ctx); info != nil && info.log != nil {
		return info.log
	}
	return slog.Default()
}

// withRequestID gives every request an id: the caller's X-Request-ID when it
// is 1 to 64 characters of [A-Za-z0-9._-], a random one otherwise. The id is
// echoed in the response and carried by the request's logger. It starts
// the request's requestInfo.
func withRequestID(base *slog.Logger) func(http.Handler) http.Handler {
	log := slog.New(requestAttrs{base.Handler()})
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(requestIDHeader)
			if !validRequestID(id) {
				id = newRequestID()
			}
			w.Header()[requestIDKey] = []string{id}
			info := &requestInfo{requestID: id, log: log}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		})
	}
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// newRequestID returns 128 random bits in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents so)
	var h [2 * len(b)]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

type requestInfoKey struct{}

// requestInfo is what the request's log lines are told about it: its id
// and logger (withRequestID), and what the inner handlers fill in,
// whatever middleware sits between them.
type requestInfo struct {
	requestID string
	log       *slog.Logger // adds requestID and userID to each line (requestAttrs)
	route     string       // the ServeMux pattern, e.g. "GET /api/v1/users/me"; empty when none matched

	// clientKey is what per-address limits count the request by
	// (addrKey), set by withClient for the limits a handler applies.
	clientKey string

	// The rate limit the response's headers describe (allow): its
	// requests left, and the headers to clear if a later limit refuses.
	rateShown     bool
	rateRemaining int
	rateHeader    http.Header

	// token is the /token form, parsed once by readToken. basicClient
	// says the request tried to authenticate its client with an
	// "Authorization: Basic" header (set by readToken before parsing):
	// only then does an invalid_client answer challenge (tokenError).
	token       *tokenRequest
	basicClient bool
	// counted is the count of a login step (at /token, a passkey's)
	// against the per-address login limit, taken back once the step
	// proves the password or the factor (user.LoginProven).
	counted ratelimit.Result

	// Set by authenticate once a bearer token is accepted.
	userID  string // for the log lines
	user    user.User
	session user.Session
	authed  bool
	// serviceAccount is the client id of a service account's token that
	// authenticate accepted ("" for a user's); user is then an
	// administrator with no account standing for it (serviceaccount.go).
	serviceAccount string
}

// withClient is the operation middleware that tells the service who is
// calling (user agent, client address, request id) on the operations that
// may record it: a login's new session, an audit event. Reads that record
// nothing skip the work.
func (a *api) withClient(ctx huma.Context, next func(huma.Context)) {
	r, _ := humago.Unwrap(ctx)
	ip := a.clientIP.IP(r)
	c := user.Client{UserAgent: r.UserAgent(), IP: ip.String()}
	if info := requestInfoFrom(ctx.Context()); info != nil {
		c.RequestID = info.requestID
		info.clientKey = addrKey(ip)
	}
	next(huma.WithContext(ctx, user.WithClient(ctx.Context(), c)))
}

// logRequests writes one line per request: method, route pattern (never the
// raw path), status, duration, response bytes, request id and, when
// authenticated, user id. Never bodies or headers, so never a password or a
// token. It counts the request in m by the same route and status.
//
// It also turns a panic in a handler into a logged 500 with a JSON body, so
// one bad request cannot take the server down; the panicking request is
// logged and counted like any other.
func logRequests(m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			counted := m.Start()
			start := time.Now()
			ctx := r.Context()
			info := requestInfoFrom(ctx)
			if info == nil { // not behind withRequestID
				info = &requestInfo{log: slog.Default()}
				ctx = context.WithValue(ctx, requestInfoKey{}, info)
				r = r.WithContext(ctx)
			}
			rec := &recorder{ResponseWriter: w}
			defer func() {
				v := recover()
				if v != nil && v != http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel is compared, never wrapped
					logger(ctx).LogAttrs(ctx, slog.LevelError, "panic serving request",
						slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
					if rec.status == 0 { // nothing sent yet: the client gets a proper answer
						writeJSONProblem(rec, http.StatusInternalServerError, codeInternal, internalError)
					}
				}
				status := rec.statusCode()
				counted.Done(info.route, r.Method, status)
				info.logAccess(ctx, r.Method, status, time.Since(start), rec.bytes)
				if v == http.ErrAbortHandler { //nolint:errorlint // as above
					panic(v) // the handler asked net/http to abort the response
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// logAccess writes the access line of logRequests. It builds the record
// itself rather than through slog.Logger, which would also look up the
// caller's program counter on every request: a source the line never
// shows.
func (info *requestInfo) logAccess(ctx context.Context, method string, status int, took time.Duration, bytes int64) {
	h := info.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	line := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	line.AddAttrs(
		slog.String("method", method),
		slog.String("route", info.route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.Int64("bytes", bytes))
	_ = h.Handle(ctx, line) // user_id, once known, and request_id come from info (requestAttrs)
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are interim responses
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController (and huma's body read deadline) reach
// the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK // what net/http sends for a handler that writes nothing
	}
	return r.status
}

// routed serves mux and notes the matched pattern for the access log. A
// request no route takes is answered 404 or 405 (with Allow) as a JSON
// problem, like every other error, instead of the mux's plain text.
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern == "" {
			// No pattern: h is the mux's 404 or 405 answer (or a redirect to
			// a cleaned path), which has no side effect; run it to learn which.
			p := &probe{header: http.Header{}}
			h.ServeHTTP(p, r)
			if p.status == http.StatusNotFound || p.status == http.StatusMethodNotAllowed {
				writeNoRoute(w, p.status, p.header.Get("Allow"))
				return
			}
		}
		// Noted before serving, so that even a request that panics is logged
		// and counted under its route.
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.route = pattern
		}
		mux.ServeHTTP(w, r)
	})
}

func writeNoRoute(w http.ResponseWriter, status int, allow string) {
	if allow != "" {
		w.Header().Set("Allow", allow)
	}
	writeJSONProblem(w, status, codeForStatus(status), strings.ToLower(http.StatusText(status)))
}

// probe is a ResponseWriter that keeps only the status and headers.
type probe struct {
	header http.Header
	status int
}

func (p *probe) Header() http.Header         { return p.header }
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }
func (p *probe) WriteHeader(code int)        { p.status = code }
