package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/apidocs"
	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/user"
)

// TestHealthzNeedsNoDatabase: liveness answers 200 with the database
// down. It says only that: the public /healthz named the build's version
// and commit to anyone, which tells an attacker which known flaws to try;
// the build is on the operations listener's /version (and `usersvc
// version`).
func TestHealthzNeedsNoDatabase(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory, apptest.With(app.WithBuild(httpapi.Build{Version: "v1.2.3", Commit: "abc1234"})))
	srv.Memory.SetFail(errors.New("database is down"))
	res := srv.do(req{method: "GET", path: "/healthz"})
	if body := res.object(t); res.Status != http.StatusOK || !maps.Equal(body, map[string]any{"status": "ok"}) {
		t.Errorf("GET /healthz = %v, want 200 with the status alone", res)
	}
	if strings.Contains(string(res.Body), "v1.2.3") || strings.Contains(string(res.Body), "abc1234") {
		t.Errorf("GET /healthz shows the build: %s", res.Body)
	}
	res = srv.ops(req{method: "GET", path: "/version"})
	if body := res.object(t); res.Status != http.StatusOK || body["version"] != "v1.2.3" || body["commit"] != "abc1234" {
		t.Errorf("operations GET /version = %v, want the build", res)
	}
}

func TestReadyz(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		res := srv.do(req{method: "GET", path: "/readyz"})
		if body := res.object(t); res.Status != http.StatusOK || body["status"] != "ok" {
			t.Fatalf("GET /readyz on a live database = %v, want 200 ok", res)
		}
		srv.App.Close() // the database with it
		res = srv.do(req{method: "GET", path: "/readyz"})
		body := res.object(t)
		checks, _ := body["checks"].(map[string]any)
		if res.Status != http.StatusServiceUnavailable || checks["database"] != "unreachable" || body["detail"] == nil {
			t.Errorf("GET /readyz on a closed database = %v, want 503 naming the database check", res)
		}
		if strings.Contains(string(res.Body), "closed") || strings.Contains(string(res.Body), "sql") {
			t.Errorf("readiness body leaks the driver's error: %s", res.Body)
		}
		if res := srv.do(req{method: "GET", path: "/healthz"}); res.Status != http.StatusOK {
			t.Errorf("GET /healthz with the database closed = %v, want 200", res)
		}
	})
}

// TestReadyzTimesOut: a database check that hangs is cut at ReadyTimeout
// (an httpapi option config does not set) and answered 503.
func TestReadyzTimesOut(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	hanging := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	srv.h = httpapi.New(srv.App.Service(), httpapi.Options{Logger: slog.New(slog.NewJSONHandler(srv.Logs, nil)),
		Ready: hanging, ReadyTimeout: 20 * time.Millisecond})
	if res := srv.do(req{method: "GET", path: "/readyz"}); res.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with a hanging database = %v, want 503 after the timeout", res)
	}
}

// TestPanicIsA500AndTheServerGoesOn makes the store panic while a request
// authenticates.
func TestPanicIsA500AndTheServerGoesOn(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	_, tok := srv.signedUp()
	srv.Memory.SetAfterByID(func(user.User) { panic("store exploded") })
	res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
	wantProblem(t, res, http.StatusInternalServerError, "internal server error")
	logs := string(srv.Logs.Bytes())
	if !strings.Contains(logs, "store exploded") || !strings.Contains(logs, "goroutine") {
		t.Errorf("the panic and its stack are not logged:\n%s", logs)
	}
	if strings.Contains(string(res.Body), "exploded") {
		t.Errorf("the 500 body tells the cause: %s", res.Body)
	}
	lines := srv.accessLines()
	if access := lines[len(lines)-1]; access["status"] != float64(500) || access["route"] != "GET /api/v1/users/me" {
		t.Errorf("access log of the panicking request = %v, want status 500 on its route", access)
	}
	srv.Memory.SetAfterByID(nil)
	if res := srv.do(req{method: "GET", path: "/healthz"}); res.Status != http.StatusOK {
		t.Errorf("after a panic GET /healthz = %v, want 200", res)
	}
	if res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok}); res.Status != http.StatusOK {
		t.Errorf("after a panic GET /users/me = %v, want 200", res)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	_, tok := srv.signedUp()
	for _, r := range []req{
		{method: "GET", path: "/api/v1/users/me", token: tok},
		{method: "POST", path: "/api/v1/token", contentType: "application/x-www-form-urlencoded", body: "username=nobody&password=whatever1"},
		{method: "GET", path: "/nowhere"},
	} {
		res := srv.do(r)
		for name, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
			"X-Frame-Options":         "DENY",
		} {
			if got := res.Header.Get(name); got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.method, r.path, name, got, want)
			}
		}
	}
	res := srv.do(req{method: "GET", path: "/docs/"})
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "swagger-ui") {
		t.Fatalf("GET /docs/ = %d, want the docs page", res.Status)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != apidocs.CSP {
		t.Errorf("docs CSP = %q, want the docs page's own %q", got, apidocs.CSP)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("docs X-Content-Type-Options = %q, want nosniff", got)
	}
	if res := srv.do(req{method: "GET", path: "/docs"}); res.Status != http.StatusMovedPermanently || res.Header.Get("Location") != "/docs/" {
		t.Errorf("GET /docs = %d to %q, want a redirect to /docs/", res.Status, res.Header.Get("Location"))
	}
}

const allowedOrigin = "https://app.example.com"

// corsServer is a server that lets allowedOrigin call it from a browser.
func corsServer(t *testing.T) *server {
	t.Helper()
	return newServer(t, apptest.Memory, apptest.Env("USERSVC_CORS_ORIGINS", allowedOrigin))
}

// preflight asks, as a browser on origin would, whether method may be
// sent to path.
func (s *server) preflight(origin, method, path string) response {
	s.t.Helper()
	return s.do(req{method: "OPTIONS", path: path, header: http.Header{
		"Origin": {origin}, "Access-Control-Request-Method": {method}, "Access-Control-Request-Headers": {"authorization,content-type"}, // as browsers send it
	}})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	srv := corsServer(t)

	preflight := srv.preflight(allowedOrigin, "PUT", "/api/v1/users/me")
	if preflight.Status/100 != 2 || preflight.Header.Get("Access-Control-Allow-Origin") != allowedOrigin {
		t.Fatalf("preflight from %s = %d, ACAO %q; want 2xx allowing it", allowedOrigin, preflight.Status, preflight.Header.Get("Access-Control-Allow-Origin"))
	}
	if got := preflight.Header.Get("Access-Control-Allow-Methods"); got != "PUT" {
		t.Errorf("Access-Control-Allow-Methods = %q, want PUT", got)
	}
	if got := strings.ToLower(preflight.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") || !strings.Contains(got, "content-type") {
		t.Errorf("Access-Control-Allow-Headers = %q, want Authorization and Content-Type", got)
	}

	res := srv.do(req{method: "GET", path: "/healthz", header: http.Header{"Origin": {allowedOrigin}}})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != allowedOrigin {
		t.Errorf("simple request from %s: ACAO = %q", allowedOrigin, got)
	}
	if got := res.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "X-Request-Id") && !strings.Contains(got, "X-Request-ID") {
		t.Errorf("Access-Control-Expose-Headers = %q, want the request id exposed", got)
	}

	for _, r := range []req{
		{method: "GET", path: "/healthz", header: http.Header{"Origin": {"https://evil.example"}}},
		{method: "OPTIONS", path: "/api/v1/users/me", header: http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"PUT"}}},
	} {
		if res := srv.do(r); hasCORS(res.Header) {
			t.Errorf("%s from another origin got CORS headers: %v", r.method, res.Header)
		}
	}

	none := newServer(t, apptest.Memory) // no origins configured: no CORS at all
	if res := none.do(req{method: "GET", path: "/healthz", header: http.Header{"Origin": {allowedOrigin}}}); hasCORS(res.Header) {
		t.Errorf("with no origins configured a request got CORS headers: %v", res.Header)
	}
}

// TestCORSAllowsTheRoutesMethods: a browser on an allowed origin may send
// every method a route takes, PATCH (the admin's user update) included,
// and no other.
func TestCORSAllowsTheRoutesMethods(t *testing.T) {
	t.Parallel()
	srv := corsServer(t)
	_, id := srv.signUp()
	preflight := srv.preflight(allowedOrigin, "PATCH", "/api/v1/admin/users/"+id.String())
	if preflight.Status/100 != 2 || preflight.Header.Get("Access-Control-Allow-Origin") != allowedOrigin ||
		preflight.Header.Get("Access-Control-Allow-Methods") != "PATCH" {
		t.Errorf("preflight of PATCH /api/v1/admin/users/{id} = %d, ACAO %q, methods %q; want it allowed",
			preflight.Status, preflight.Header.Get("Access-Control-Allow-Origin"), preflight.Header.Get("Access-Control-Allow-Methods"))
	}

	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(srv.do(req{method: "GET", path: "/openapi.json"}).Body, &doc); err != nil {
		t.Fatal(err)
	}
	routed := map[string]bool{}
	for _, ops := range doc.Paths {
		for method := range ops {
			routed[strings.ToUpper(method)] = true
		}
	}
	var allowed []string
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "TRACE", "PROPFIND"} {
		if res := srv.preflight(allowedOrigin, method, "/api/v1/users/me"); res.Header.Get("Access-Control-Allow-Methods") == method {
			allowed = append(allowed, method)
		}
	}
	want := slices.Sorted(maps.Keys(routed))
	slices.Sort(allowed)
	if diff := cmp.Diff(want, allowed); diff != "" {
		t.Errorf("methods a preflight allows (-the routes' methods +allowed):\n%s", diff)
	}
	if !routed["PATCH"] || len(routed) != 5 {
		t.Errorf("the routes' methods are %v, want GET, POST, PUT, PATCH and DELETE", want)
	}
}

func hasCORS(h http.Header) bool {
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-Allow-") {
			return true
		}
	}
	return false
}

// countingReader fails the test's expectation if the server reads the body.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil // an endless body
}

func TestOversizeBodyRefusedBeforeReading(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory, apptest.Env("USERSVC_MAX_BODY_BYTES", "1024"))
	body := &countingReader{}
	hr, err := http.NewRequest(http.MethodPost, "/api/v1/register", body)
	if err != nil {
		t.Fatal(err)
	}
	hr.ContentLength = 10 << 20
	hr.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.h.ServeHTTP(w, hr)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", w.Code)
	}
	if body.n != 0 {
		t.Errorf("the server read %d bytes of a body it had to refuse", body.n)
	}
	if !strings.Contains(w.Body.String(), `"detail"`) {
		t.Errorf("413 body %q has no detail", w.Body.String())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	a, tok := srv.signedUp()
	srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
	srv.do(req{method: "GET", path: "/api/v1/users/" + a.Username}) // a raw path must not become a label
	res := srv.ops(req{method: "GET", path: "/metrics"})
	out := string(res.Body)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.Status)
	}
	for _, want := range []string{
		`usersvc_http_requests_total{method="POST",route="POST /api/v1/register",status="2xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="GET /api/v1/users/me",status="2xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="unmatched",status="4xx"} 1`,
		`usersvc_http_request_duration_seconds_bucket{method="POST",route="POST /api/v1/token"`,
		`usersvc_http_requests_in_flight 0`, // the operations listener is not counted
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, a.Username) || strings.Contains(out, a.Email) {
		t.Error("metrics contain a user's name or email: labels must stay bounded")
	}
}

// TestMetricsMethodLabelsAreBounded sends requests with made-up methods,
// which net/http accepts (any token is a method): each one used to become
// a series of its own in /metrics, so one client could grow the
// registry, and every scrape, without bound.
func TestMetricsMethodLabelsAreBounded(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	for i := range 20 {
		for _, path := range []string{"/nowhere", "/api/v1/users/me", "/healthz"} {
			if res := srv.do(req{method: fmt.Sprintf("PROBE%d", i), path: path}); res.Status < 400 {
				t.Fatalf("PROBE%d %s = %d, want an error", i, path, res.Status)
			}
		}
	}
	out := srv.metrics()
	if strings.Contains(out, "PROBE") {
		t.Errorf("a client's made-up method became a metric label:\n%s", grepLines(out, "PROBE"))
	}
	for _, want := range []string{
		`usersvc_http_requests_total{method="other",route="unmatched",status="4xx"} 60`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
