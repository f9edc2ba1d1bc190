package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// stores are the databases every HTTP test runs on: SQLite, and
// PostgreSQL (which skips without a server, except in CI).
func stores() []string { return apptest.Stores() }

// eachStore runs test on every real store, each in a parallel subtest
// named for the store.
func eachStore(t *testing.T, test func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range stores() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, kind)
		})
	}
}

// server is the real service, built by app.New through apptest, with its
// logs captured as JSON and its mail in a mailbox. h is what requests go
// to: the App's handler, unless a test of an httpapi.Options knob built
// its own over the App's service.
type server struct {
	*apptest.Server
	t *testing.T
	h http.Handler
}

// newServer builds the service on a fresh store of kind (apptest.SQLite,
// apptest.Postgres or apptest.Memory).
func newServer(t *testing.T, kind string, opts ...apptest.Option) *server {
	t.Helper()
	s := newServerTB(t, kind, opts...)
	s.t = t
	return s
}

// newServerTB is newServer for fuzz targets and benchmarks, which have a
// testing.TB: the server's own helpers that use s.t are not for them.
func newServerTB(tb testing.TB, kind string, opts ...apptest.Option) *server {
	tb.Helper()
	a := apptest.New(tb, kind, opts...)
	return &server{Server: a, h: a.Handler}
}

// limitsOn switches the rate limits and the lockout on, with the given
// variables over the defaults. The slowdown of logins after failures is
// off unless a test sets it: it waits on the wall clock.
func limitsOn(kv ...string) apptest.Option {
	return apptest.Env(append([]string{"USERSVC_RATE_LIMITS", "on", "USERSVC_LOGIN_SLOWDOWN_AFTER", "0"}, kv...)...)
}

// response is what the handler answered.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	path   string // the request's path, without the query
	// basic says the request sent an "Authorization: Basic" header.
	basic bool
}

// req describes a request; a JSON body is the default content type.
type req struct {
	method, path string
	body         string
	contentType  string // "-" for none
	token        string
	header       http.Header // peerHeader sets the socket's address
}

// peerHeader, in a req's header, is not sent: it sets the address the
// request comes from, as the socket would (httptest's is 192.0.2.1).
const peerHeader = "X-Test-Peer"

// ops sends r to the operations listener's handler.
func (s *server) ops(r req) response {
	s.t.Helper()
	return (&server{h: s.App.OpsHandler(), t: s.t}).doTB(s.t, r)
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
	if p := hr.Header.Get(peerHeader); p != "" {
		hr.RemoteAddr = p
		hr.Header.Del(peerHeader)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, hr)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes(), path: hr.URL.Path, basic: strings.HasPrefix(strings.ToLower(hr.Header.Get("Authorization")), "basic ")}
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

// codePattern is the shape of every error code.
var codePattern = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

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

// signUp registers a new account and returns it with its id.
func (s *server) signUp() (account, uuid.UUID) {
	s.t.Helper()
	a := newAccount()
	return a, uuid.MustParse(s.register(a)["id"].(string))
}

const formType = "application/x-www-form-urlencoded"

func (s *server) loginAs(login, password string) response {
	s.t.Helper()
	form := url.Values{"username": {login}, "password": {password}}.Encode()
	return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType})
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

// setRole changes the role of the account id in the store directly, as an
// operator would.
func (s *server) setRole(id uuid.UUID, role user.Role) {
	s.t.Helper()
	if _, err := s.Stores.Users.Update(s.t.Context(), id, user.Patch{Role: &role}); err != nil {
		s.t.Fatalf("set role of %s: %v", id, err)
	}
}

// metrics returns what /metrics of the operations listener shows now.
func (s *server) metrics() string {
	s.t.Helper()
	res := s.ops(req{method: "GET", path: "/metrics"})
	if res.Status != http.StatusOK {
		s.t.Fatalf("GET /metrics: %v", res)
	}
	return string(res.Body)
}

// logLines returns the JSON log records written so far.
func (s *server) logLines() []map[string]any {
	s.t.Helper()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(s.Logs.Bytes()), []byte("\n")) {
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

// accessLines returns the access-log records written so far.
func (s *server) accessLines() []map[string]any {
	s.t.Helper()
	var lines []map[string]any
	for _, l := range s.logLines() {
		if l["msg"] == "request" {
			lines = append(lines, l)
		}
	}
	return lines
}

// tokenPath is the OAuth2 token endpoint, whose errors are RFC 6749's.
const tokenPath = "/api/v1/token"

// wantProblem checks an error response: status, JSON problem body with the
// detail (when want is not empty) and a code, and, for 401, the Bearer
// challenge. An answer of /token, and a 401 of /revoke, is an OAuth2 error
// instead (wantOAuthError).
func wantProblem(t *testing.T, res response, status int, detail string) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("got %v, want status %d", res, status)
	}
	// /revoke refuses a client as /token does (RFC 7009 section 2.2.1).
	if res.path == tokenPath || (res.path == "/api/v1/revoke" && status == http.StatusUnauthorized) {
		return wantOAuthError(t, res, status, "", detail)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	body := res.object(t)
	got, ok := body["detail"].(string)
	if !ok || got == "" {
		t.Errorf("body %s has no detail", res.Body)
	}
	if code, _ := body["code"].(string); !codePattern.MatchString(code) {
		t.Errorf("body %s has no code (a stable snake_case name)", res.Body)
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

// wantOAuthError checks an error of /token: status, an application/json
// body with the problem's detail (when not empty) and code, and RFC 6749's
// error (oauth, when not empty) and error_description; no Bearer
// challenge; a Basic one only for invalid_client when the request sent
// an "Authorization: Basic" header (RFC 6749 section 5.2), none when the
// credentials came in the body.
func wantOAuthError(t *testing.T, res response, status int, oauth, detail string) map[string]any {
	t.Helper()
	if res.Status != status {
		t.Fatalf("got %v, want status %d", res, status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	body := res.object(t)
	got, _ := body["detail"].(string)
	if got == "" || (detail != "" && got != detail) {
		t.Errorf("detail: got %q, want %q", got, detail)
	}
	if code, _ := body["code"].(string); !codePattern.MatchString(code) {
		t.Errorf("body %s has no code (a stable snake_case name)", res.Body)
	}
	errCode, _ := body["error"].(string)
	if !codePattern.MatchString(errCode) || (oauth != "" && errCode != oauth) {
		t.Errorf("error: got %q, want %q", errCode, oauth)
	}
	if desc, _ := body["error_description"].(string); desc == "" || strings.ContainsAny(desc, "\"\\") {
		t.Errorf("error_description %q: want the detail in RFC 6749's characters", desc)
	}
	challenge := res.Header.Get("WWW-Authenticate")
	if errCode == "invalid_client" && res.basic {
		if !strings.HasPrefix(challenge, "Basic ") {
			t.Errorf("WWW-Authenticate: got %q, want a Basic challenge for invalid_client by an Authorization header", challenge)
		}
	} else if challenge != "" {
		t.Errorf("WWW-Authenticate: got %q, want none on /token", challenge)
	}
	return body
}

// wantLocated checks that a 422's field errors name location.
func wantLocated(t *testing.T, body map[string]any, location string) {
	t.Helper()
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["location"] == location {
			return
		}
	}
	t.Errorf("errors %v: none located at %s", body["errors"], location)
}

// claims decodes the payload of a JWT, unverified.
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forger issues tokens as the test servers do (HS256 with apptest.Secret,
// the default issuer and audience) with the given changes, to show that
// what a forged token gets wrong is what makes it refused.
type forger struct {
	secret           string
	issuer, audience string
	now              time.Time
}

// genuine is a forger of tokens the servers accept, at now.
func genuine(now time.Time) forger {
	return forger{secret: apptest.Secret, issuer: "usersvc", audience: "usersvc", now: now}
}

func (f forger) issue(t *testing.T, c security.Claims) string {
	t.Helper()
	tokens, err := security.NewHS256([]byte(f.secret), f.issuer, time.Minute,
		func() time.Time { return f.now }, security.WithAudience(f.audience))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tokens.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// nextMail waits (bounded) for the next mail of kind to address to. Mail
// comes through the job queue, security mail in a queue of its own: mail
// of other kinds may come before or after it.
func (s *server) nextMail(kind, to string) usertest.Mail {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	m, err := s.Mail.Take(ctx, kind, to)
	if err != nil {
		s.t.Fatalf("no %s mail to %s: %v (arrived: %+v)", kind, to, err, s.Mail.All())
	}
	return m
}
