package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/httpapi"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	for _, tt := range []struct {
		name  string
		given string
		kept  bool
	}{
		{"kept", "abc-123_X.y", true},
		{"64 characters kept", strings.Repeat("a", 64), true},
		{"65 characters replaced", strings.Repeat("a", 65), false},
		{"space replaced", "abc 123", false},
		{"slash replaced", "abc/123", false},
		{"non-ASCII replaced", "abcé", false},
		{"quote replaced", `abc"},{"x`, false},
		{"absent generated", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: "GET", path: "/api/v1/users/me"}
			if tt.given != "" {
				r.header = http.Header{"X-Request-Id": {tt.given}}
			}
			res := srv.do(r)
			got := res.Header.Get("X-Request-ID")
			switch {
			case tt.kept && got != tt.given:
				t.Errorf("X-Request-ID: got %q, want %q", got, tt.given)
			case !tt.kept && !generatedID.MatchString(got):
				t.Errorf("X-Request-ID: got %q, want 32 hex digits", got)
			}
			lines := srv.accessLines()
			if last := lines[len(lines)-1]; last["request_id"] != got {
				t.Errorf("access log request_id: got %v, want %q", last["request_id"], got)
			}
		})
	}
	a := srv.do(req{method: "GET", path: "/api/v1/users/me"}).Header.Get("X-Request-ID")
	b := srv.do(req{method: "GET", path: "/api/v1/users/me"}).Header.Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	a := newAccount()
	id := srv.register(a)["id"].(string)
	tok := srv.token(a.Username, a.Password)
	me := srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
	srv.do(req{method: "PATCH", path: "/api/v1/users/me", token: tok})
	srv.do(req{method: "GET", path: "/api/v1/users/12345"})

	type line struct {
		Msg, Method, Route, UserID string
		Status, Bytes              float64
	}
	var got []line
	for _, l := range srv.accessLines() {
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("log line %v has no numeric duration_ms", l)
		}
		if id, _ := l["request_id"].(string); !generatedID.MatchString(id) {
			t.Errorf("log line %v has no request_id", l)
		}
		uid, _ := l["user_id"].(string)
		got = append(got, line{l["msg"].(string), l["method"].(string), l["route"].(string), uid, l["status"].(float64), l["bytes"].(float64)})
	}
	want := []line{
		{"request", "POST", "POST /api/v1/register", "", 201, got[0].Bytes},
		{"request", "POST", "POST /api/v1/token", "", 200, got[1].Bytes},
		{"request", "GET", "GET /api/v1/users/me", id, 200, float64(len(me.Body))},
		{"request", "PATCH", "", "", 405, got[3].Bytes},
		{"request", "GET", "", "", 404, got[4].Bytes},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
	logs := string(srv.Logs.Bytes())
	for _, secret := range []string{a.Password, tok, "Bearer", "/api/v1/users/12345"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestNoRoute(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/api/v1/register", 405, "POST"},
		{"PATCH", "/api/v1/users/me", 405, "DELETE, GET, HEAD, PUT"},
		{"GET", "/schemas/UserRead.json", 404, ""},
		{"GET", "/openapi-3.0.json", 404, ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := srv.do(req{method: tt.method, path: tt.path})
			wantProblem(t, res, tt.status, strings.ToLower(http.StatusText(tt.status)))
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
		})
	}
	// A path the mux cleans is redirected, not refused.
	res := srv.do(req{method: "GET", path: "/api/v1/../v1/users/me"})
	if res.Status/100 != 3 || res.Header.Get("Location") != "/api/v1/users/me" {
		t.Errorf("unclean path: got %v, Location %q; want a redirect to /api/v1/users/me", res, res.Header.Get("Location"))
	}
}

func TestMaxBodyBytes(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv := newServer(t, apptest.Memory, apptest.Env("USERSVC_MAX_BODY_BYTES", strconv.Itoa(limit)))
	body := func(size int) string {
		b := newAccount().json()
		return b[:len(b)-1] + strings.Repeat(" ", size-len(b)) + "}"
	}
	if res := srv.do(req{method: "POST", path: "/api/v1/register", body: body(limit)}); res.Status != http.StatusCreated {
		t.Errorf("a body of exactly the limit: got %v, want 201", res)
	}
	res := srv.do(req{method: "POST", path: "/api/v1/register", body: body(limit + 1)})
	wantProblem(t, res, http.StatusRequestEntityTooLarge, "request body is too large: the limit is 1024 bytes")
}

// TestOverNetwork goes through a real connection, where huma sets a read
// deadline through the access log's ResponseWriter.
func TestOverNetwork(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		ts := httptest.NewServer(srv.h)
		defer ts.Close()
		a := newAccount()
		res, err := ts.Client().Post(ts.URL+"/api/v1/register", "application/json", strings.NewReader(a.json()))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("register: got %d, want 201", res.StatusCode)
		}
		res, err = ts.Client().PostForm(ts.URL+"/api/v1/token", url.Values{"username": {a.Username}, "password": {a.Password}})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(buf.String(), `"token_type":"bearer"`) {
			t.Fatalf("login: got %d %s, want 200 and a token", res.StatusCode, buf.Bytes())
		}
		if !generatedID.MatchString(res.Header.Get("X-Request-ID")) {
			t.Errorf("X-Request-ID: got %q, want 32 hex digits", res.Header.Get("X-Request-ID"))
		}
	})
}

// TestDefaultOptions: the zero Options serve.
func TestDefaultOptions(t *testing.T) {
	t.Parallel()
	h := httpapi.New(newServer(t, apptest.Memory).App.Service(), httpapi.Options{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Errorf("GET /openapi.json: got %d, want 200", w.Code)
	}
}
