package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// stores are the databases every HTTP test runs on: SQLite, and PostgreSQL
// when USERSVC_TEST_POSTGRES_URL is set.
func stores(t *testing.T) []storetest.Store {
	t.Helper()
	return storetest.All()
}

// testSecret signs the tests' tokens.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// server is the real handler over repo, with its logs captured as JSON.
type server struct {
	t    *testing.T
	h    http.Handler
	logs *syncBuffer
}

func newServer(t *testing.T, repo user.Repository, opts ...func(*httpapi.Options)) *server {
	t.Helper()
	s := newServerTB(t, repo, opts...)
	s.t = t
	return s
}

// newServerTB is newServer for fuzz targets, which have a testing.TB: the
// server's own helpers that use s.t are not for them.
func newServerTB(tb testing.TB, repo user.Repository, opts ...func(*httpapi.Options)) *server {
	tb.Helper()
	hasher, tokens := newSecurity(tb)
	logs := &syncBuffer{}
	o := httpapi.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	for _, f := range opts {
		f(&o)
	}
	return &server{h: httpapi.New(user.NewService(repo, hasher, tokens), o), logs: logs}
}

// newSecurity returns the cheapest hasher and a token issuer for tests.
func newSecurity(tb testing.TB) (*security.Bcrypt, *security.HS256) {
	tb.Helper()
	hasher, err := security.NewBcrypt(4)
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := security.NewHS256(testSecret, "usersvc-test", 30*time.Minute, time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	return hasher, tokens
}

// response is what the handler answered.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// req describes a request; a JSON body is the default content type.
type req struct {
	method, path string
	body         string
	contentType  string // "-" for none
	token        string
	header       http.Header
}

func (s *server) do(r req) response {
	s.t.Helper()
	return s.doTB(s.t, r)
}

// doTB is do for any testing.TB, for servers made by newServerTB.
func (s *server) doTB(tb testing.TB, r req) response {
	tb.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	switch r.contentType {
	case "":
		if r.body != "" {
			hr.Header.Set("Content-Type", "application/json")
		}
	case "-":
	default:
		hr.Header.Set("Content-Type", r.contentType)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header[k] = v
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, hr)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// object decodes a JSON object body.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// names makes unique emails and usernames, so cases can share a store.
var names atomic.Int64

type account struct {
	Email, Username, Password string
}

func newAccount() account {
	n := names.Add(1)
	return account{
		Email:    fmt.Sprintf("user%d@example.com", n),
		Username: fmt.Sprintf("user%d", n),
		Password: "correct horse battery",
	}
}

func (a account) json() string {
	b, _ := json.Marshal(map[string]string{"email": a.Email, "username": a.Username, "password": a.Password})
	return string(b)
}

// register creates a and returns its UserRead.
func (s *server) register(a account) map[string]any {
	s.t.Helper()
	res := s.do(req{method: "POST", path: "/api/v1/register", body: a.json()})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("register %s: got %v, want 201", a.Username, res)
	}
	return res.object(s.t)
}

func (s *server) loginAs(login, password string) response {
	s.t.Helper()
	form := url.Values{"username": {login}, "password": {password}}.Encode()
	return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded"})
}

// token logs in and returns the access token.
func (s *server) token(login, password string) string {
	s.t.Helper()
	res := s.loginAs(login, password)
	if res.Status != http.StatusOK {
		s.t.Fatalf("login %s: got %v, want 200", login, res)
	}
	return res.object(s.t)["access_token"].(string)
}

// signedUp registers a new account and logs it in.
func (s *server) signedUp() (account, string) {
	s.t.Helper()
	a := newAccount()
	s.register(a)
	return a, s.token(a.Username, a.Password)
}

// logLines returns the JSON log records written so far.
func (s *server) logLines() []map[string]any {
	s.t.Helper()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(s.logs.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			s.t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// wantProblem checks an error response: status, JSON problem body with the
// detail (when want is not empty) and, for 401, the Bearer challenge.
func wantProblem(t *testing.T, res response, status int, detail string) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("got %v, want status %d", res, status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	body := res.object(t)
	got, ok := body["detail"].(string)
	if !ok || got == "" {
		t.Errorf("body %s has no detail", res.Body)
	}
	if detail != "" && got != detail {
		t.Errorf("detail: got %q, want %q", got, detail)
	}
	if status == http.StatusUnauthorized {
		if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate: got %q, want Bearer", got)
		}
	}
	return body
}
