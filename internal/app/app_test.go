package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/mail/mailtest"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// load is the configuration of environ over the test defaults: a data
// directory of the test's, cheap hashing.
func load(t *testing.T, environ ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(append([]string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_BCRYPT_COST=4", "USERSVC_OPS_ADDR=off"}, environ...), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// do sends a request to h and returns the status and the body.
func do(t *testing.T, h http.Handler, method, path, token, contentType, body string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// signUp registers ada and returns her access token.
func signUp(t *testing.T, h http.Handler) string {
	t.Helper()
	if code, body := do(t, h, "POST", "/api/v1/register", "", "application/json",
		`{"email":"ada@example.com","username":"ada","password":"correct horse"}`); code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, body)
	}
	form := url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode()
	code, body := do(t, h, "POST", "/api/v1/token", "", "application/x-www-form-urlencoded", form)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	return tok.AccessToken
}

// TestRecordsAudit: the assembled service records security events in its
// database, on every store, and shows them at /users/me/audit.
func TestRecordsAudit(t *testing.T) {
	for _, kind := range apptest.Stores() {
		t.Run(kind, func(t *testing.T) {
			s := apptest.New(t, kind)
			code, body := do(t, s.Handler, "GET", "/api/v1/users/me/audit", signUp(t, s.Handler), "", "")
			var page struct {
				Items []struct{ Kind string } `json:"items"`
			}
			if code != http.StatusOK || json.Unmarshal(body, &page) != nil {
				t.Fatalf("GET /users/me/audit: %d %s", code, body)
			}
			kinds := make([]string, len(page.Items))
			for i, e := range page.Items {
				kinds[i] = e.Kind
			}
			if want := []string{"login.succeeded", "email.verification_sent", "user.registered"}; !slices.Equal(kinds, want) {
				t.Errorf("events: %v, want %v (newest first)", kinds, want)
			}
		})
	}
}

// failingAudit is the fake store with an audit log that cannot append.
type failingAudit struct{ *usertest.Memory }

var errAuditDown = errors.New("audit table is gone")

func (f failingAudit) Stores() user.Stores {
	s := f.Memory.Stores()
	s.Audit = downAudit{s.Audit}
	return s
}

type downAudit struct{ user.AuditLog }

func (downAudit) Append(context.Context, user.AuditEvent) error { return errAuditDown }

// TestAuditFailureLogged: an event that cannot be stored is logged at
// error level, and its request still succeeds.
func TestAuditFailureLogged(t *testing.T) {
	logs := &apptest.Buffer{}
	a, err := app.New(t.Context(), load(t, "USERSVC_JWT_ALG=HS256", "USERSVC_MIGRATE_ON_START=false"),
		slog.New(slog.NewJSONHandler(logs, nil)), app.WithStore(memoryStore{failingAudit{usertest.NewMemory()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if code, body := do(t, a.Handler(), "POST", "/api/v1/register", "", "application/json",
		`{"email":"ada@example.com","username":"ada","password":"correct horse"}`); code != http.StatusCreated {
		t.Fatalf("register with a failing audit log: %d %s, want 201", code, body)
	}
	found := false
	for line := range strings.Lines(string(logs.Bytes())) {
		var l struct{ Level, Msg, Error, Kind string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" && strings.Contains(l.Msg, "audit") {
			// The registration's own event is stored in its transaction (the
			// fake's, which this one does not break); the verification mail's
			// comes after it.
			found = found || (l.Error == errAuditDown.Error() && l.Kind == string(user.AuditVerificationSent))
		}
	}
	if !found {
		t.Errorf("no ERROR line about the lost email.verification_sent event with its cause in:\n%s", logs.Bytes())
	}
}

// TestMailGoesThroughTheConfiguredServer: with SMTP settings, a
// registration's verification mail reaches the configured server from the
// configured sender, with the configured link.
func TestMailGoesThroughTheConfiguredServer(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	cfg := load(t, append(srv.Settings(), "USERSVC_VERIFY_EMAIL_URL=https://app.example.com/v?t={token}")...)
	a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	signUp(t, a.Handler())
	got := srv.Wait(t, "ada@example.com")
	tok := mailtest.Token(t, got)
	if got.From != "no-reply@example.com" || !strings.Contains(got.Text, "https://app.example.com/v?t="+url.QueryEscape(tok)) {
		t.Errorf("got From %q, text:\n%s", got.From, got.Text)
	}
}

// TestServeStopsInOrder: after the HTTP server has stopped (requests still
// being served could queue mail), the mail outbox is closed, then the
// database.
func TestServeStopsInOrder(t *testing.T) {
	logs := &apptest.Buffer{}
	a, err := app.New(t.Context(), load(t), slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	a.Close()
	var msgs []string
	for line := range strings.Lines(string(logs.Bytes())) {
		var entry struct{ Msg string }
		if json.Unmarshal([]byte(line), &entry) == nil {
			msgs = append(msgs, entry.Msg)
		}
	}
	stopped, closed, db := slices.Index(msgs, "stopped"), slices.Index(msgs, "job queue stopped"), slices.Index(msgs, "database closed")
	if stopped < 0 || closed < stopped || db < closed {
		t.Errorf("want stopped, job queue stopped, database closed in that order; got %q", msgs)
	}
}

// TestRunNamesTheAddressInUse: a port that is taken fails the start with
// an error naming USERSVC_ADDR.
func TestRunNamesTheAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := app.New(t.Context(), load(t, "USERSVC_ADDR="+ln.Addr().String()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "USERSVC_ADDR="+ln.Addr().String()) {
		t.Errorf("Run on a busy port = %v, want an error naming USERSVC_ADDR and the address", err)
	}
}

// TestNewNamesAnUnreachableDatabase: a database that does not answer
// fails New with an error naming DATABASE_URL, its password masked.
func TestNewNamesAnUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody answers PostgreSQL on
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := load(t, "DATABASE_URL=postgres://ada:s3cret-pw@"+addr+"/usersvc?connect_timeout=2")
	_, err = app.New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL=") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("New = %v, want an error naming DATABASE_URL without the password", err)
	}
}

// TestOperationsStayOffThePublicPort (issue 18, finding 7): /metrics and
// /version are served on the operations listener only, and with
// USERSVC_DOCS=off the docs page and the OpenAPI document are not served
// at all; the public port keeps /healthz and /readyz.
func TestOperationsStayOffThePublicPort(t *testing.T) {
	a, err := app.New(t.Context(), load(t, "USERSVC_DOCS=off"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for path, want := range map[string]int{
		"/metrics": http.StatusNotFound, "/version": http.StatusNotFound, "/docs/": http.StatusNotFound,
		"/openapi.json": http.StatusNotFound, "/openapi.yaml": http.StatusNotFound,
		"/healthz": http.StatusOK, "/readyz": http.StatusOK,
	} {
		if code, _ := do(t, a.Handler(), "GET", path, "", "", ""); code != want {
			t.Errorf("public GET %s = %d, want %d", path, code, want)
		}
	}
	for _, path := range []string{"/metrics", "/version", "/healthz"} {
		if code, _ := do(t, a.OpsHandler(), "GET", path, "", "", ""); code != http.StatusOK {
			t.Errorf("operations GET %s = %d, want 200", path, code)
		}
	}
	docs, err := app.New(t.Context(), load(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer docs.Close()
	if code, _ := do(t, docs.Handler(), "GET", "/openapi.json", "", "", ""); code != http.StatusOK {
		t.Errorf("GET /openapi.json with the docs on (the default) = %d, want 200", code)
	}
}

// TestRunNamesTheOperationsAddressInUse: a taken USERSVC_OPS_ADDR fails
// the start naming it.
func TestRunNamesTheOperationsAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := app.New(t.Context(), load(t, "USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR="+ln.Addr().String()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "USERSVC_OPS_ADDR="+ln.Addr().String()) {
		t.Errorf("Run on a busy operations port = %v, want an error naming USERSVC_OPS_ADDR", err)
	}
}
