package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/apidocs"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestHealthzNeedsNoDatabase(t *testing.T) {
	repo := usertest.NewMemory()
	repo.SetFail(errors.New("database is down"))
	srv := newServer(t, repo, func(o *httpapi.Options) { o.Build = httpapi.Build{Version: "v1.2.3", Commit: "abc1234"} })
	res := srv.do(req{method: "GET", path: "/healthz"})
	body := res.object(t)
	if res.Status != http.StatusOK || body["status"] != "ok" || body["version"] != "v1.2.3" || body["commit"] != "abc1234" {
		t.Errorf("GET /healthz = %v, want 200 ok with the build", res)
	}
	res = srv.do(req{method: "GET", path: "/version"})
	if body := res.object(t); res.Status != http.StatusOK || body["version"] != "v1.2.3" || body["commit"] != "abc1234" {
		t.Errorf("GET /version = %v, want the build", res)
	}
}

func TestReadyz(t *testing.T) {
	for _, s := range stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			repo := s.Open(t)
			srv := newServer(t, repo)
			res := srv.do(req{method: "GET", path: "/readyz"})
			if body := res.object(t); res.Status != http.StatusOK || body["status"] != "ok" {
				t.Fatalf("GET /readyz on a live database = %v, want 200 ok", res)
			}
			if err := repo.(io.Closer).Close(); err != nil {
				t.Fatal(err)
			}
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
}

// hangingPing is a store whose database never answers a ping.
type hangingPing struct{ user.Repository }

func (hangingPing) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestReadyzTimesOut(t *testing.T) {
	srv := newServer(t, hangingPing{usertest.NewMemory()}, func(o *httpapi.Options) { o.ReadyTimeout = 20 * time.Millisecond })
	if res := srv.do(req{method: "GET", path: "/readyz"}); res.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with a hanging database = %v, want 503 after the timeout", res)
	}
}

// panicky is a store that panics on login lookups.
type panicky struct{ user.Repository }

func (panicky) ByUsername(context.Context, string) (user.User, error) { panic("store exploded") }

func TestPanicIsA500AndTheServerGoesOn(t *testing.T) {
	srv := newServer(t, panicky{usertest.NewMemory()})
	res := srv.do(req{method: "POST", path: "/api/v1/token", contentType: "application/x-www-form-urlencoded", body: "username=ada&password=whatever1"})
	wantProblem(t, res, http.StatusInternalServerError, "internal server error")
	logs := string(srv.logs.Bytes())
	if !strings.Contains(logs, "store exploded") || !strings.Contains(logs, "goroutine") {
		t.Errorf("the panic and its stack are not logged:\n%s", logs)
	}
	if strings.Contains(string(res.Body), "exploded") {
		t.Errorf("the 500 body tells the cause: %s", res.Body)
	}
	var access map[string]any
	for _, l := range srv.logLines() {
		if l["msg"] == "request" {
			access = l
		}
	}
	if access["status"] != float64(500) || access["route"] != "POST /api/v1/token" {
		t.Errorf("access log of the panicking request = %v, want status 500 on its route", access)
	}
	if res := srv.do(req{method: "GET", path: "/healthz"}); res.Status != http.StatusOK {
		t.Errorf("after a panic GET /healthz = %v, want 200", res)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := newServer(t, usertest.NewMemory())
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

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	srv := newServer(t, usertest.NewMemory(), func(o *httpapi.Options) { o.CORSOrigins = []string{app} })

	preflight := srv.do(req{method: "OPTIONS", path: "/api/v1/users/me", header: http.Header{
		"Origin": {app}, "Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"authorization,content-type"}, // as browsers send it,
	}})
	if preflight.Status/100 != 2 || preflight.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("preflight from %s = %d, ACAO %q; want 2xx allowing it", app, preflight.Status, preflight.Header.Get("Access-Control-Allow-Origin"))
	}
	if got := preflight.Header.Get("Access-Control-Allow-Methods"); got != "PUT" {
		t.Errorf("Access-Control-Allow-Methods = %q, want PUT", got)
	}
	if got := strings.ToLower(preflight.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") || !strings.Contains(got, "content-type") {
		t.Errorf("Access-Control-Allow-Headers = %q, want Authorization and Content-Type", got)
	}

	res := srv.do(req{method: "GET", path: "/healthz", header: http.Header{"Origin": {app}}})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("simple request from %s: ACAO = %q", app, got)
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

	none := newServer(t, usertest.NewMemory()) // no origins configured: no CORS at all
	if res := none.do(req{method: "GET", path: "/healthz", header: http.Header{"Origin": {app}}}); hasCORS(res.Header) {
		t.Errorf("with no origins configured a request got CORS headers: %v", res.Header)
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
	srv := newServer(t, usertest.NewMemory(), func(o *httpapi.Options) { o.MaxBodyBytes = 1024 })
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
	srv := newServer(t, usertest.NewMemory())
	a, tok := srv.signedUp()
	srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
	srv.do(req{method: "GET", path: "/api/v1/users/" + a.Username}) // a raw path must not become a label
	res := srv.do(req{method: "GET", path: "/metrics"})
	out := string(res.Body)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.Status)
	}
	for _, want := range []string{
		`usersvc_http_requests_total{method="POST",route="POST /api/v1/register",status="2xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="GET /api/v1/users/me",status="2xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="unmatched",status="4xx"} 1`,
		`usersvc_http_request_duration_seconds_bucket{method="POST",route="POST /api/v1/token"`,
		`usersvc_http_requests_in_flight 1`, // this scrape
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
