package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/mail/mailtest"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestMain(m *testing.M) {
	code := storetest.Run(m)
	removeBuild()
	os.Exit(code)
}

// loadEnv switches off what would refuse a load test's traffic on purpose
// (issue 5): the rate limits, which count one client's registrations, and
// the hashing queue's bound, which answers 503 "busy" under a burst.
var loadEnv = []string{"USERSVC_RATE_LIMITS=off", "USERSVC_HASH_QUEUE=100000", "USERSVC_HASH_MAX_WAIT=60s"}

// loadPassword is a password any password policy accepts.
const loadPassword = "Load-Pa55word-correct-horse"

// databases are the settings of a fresh database of each kind.
var databases = []struct {
	name    string
	environ func(t *testing.T) []string
}{
	{"sqlite", func(*testing.T) []string { return nil }},
	{"postgres", func(t *testing.T) []string { return []string{"DATABASE_URL=" + storetest.PostgresURL(t)} }},
}

// skipOrFail skips the test, except in CI (CI set), where what is missing
// is a failure.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(why)
}

// answer is one HTTP exchange.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
	err     error
}

// send makes one request with client, so that a hang shows as a slow answer
// or an error rather than a stuck test.
func send(client *http.Client, method, u, token, contentType, body string) answer {
	req, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return answer{err: err, latency: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b, latency: time.Since(start), err: err}
}

// callTimeout bounds one request of call: generous, but a hung server
// still fails the test.
const callTimeout = 30 * time.Second

// call sends one request, fails the test if there is no answer, decodes a
// JSON answer into out when given, and returns the status.
func call(t *testing.T, method, url, token, contentType, body string, out any) int {
	t.Helper()
	a := send(&http.Client{Timeout: callTimeout}, method, url, token, contentType, body)
	if a.err != nil {
		t.Fatalf("%s %s: %v", method, url, a.err)
	}
	if out != nil && len(a.body) > 0 {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, url, a.body, err)
		}
	}
	return a.status
}

func statusOf(client *http.Client, u string) int {
	return send(client, "GET", u, "", "", "").status
}

// getText GETs u and returns the body.
func getText(t *testing.T, u string) string {
	t.Helper()
	a := send(&http.Client{Timeout: callTimeout}, "GET", u, "", "", "")
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, a.status, a.err)
	}
	return string(a.body)
}

// signUp registers an account on api and returns its access token.
func signUp(t *testing.T, api, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email":"%s@example.com","username":%q,"password":%q}`, name, name, loadPassword)
	if a := send(&http.Client{Timeout: callTimeout}, "POST", api+"/register", "", "application/json", body); a.status != http.StatusCreated {
		t.Fatalf("register %s: %d %s %v", name, a.status, a.body, a.err)
	}
	return loginToken(t, api, name, loadPassword)
}

// loginToken logs in on api and returns the access token, failing unless
// the login succeeds.
func loginToken(t *testing.T, api, name, password string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {name}, "password": {password}}.Encode()
	if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK {
		t.Fatalf("login %s: status %d, want 200", name, got)
	}
	return tok.AccessToken
}

// smtpEnv starts an in-process SMTP server and returns the settings that
// make usersvc send account mail to it, in clear as to a local relay, and
// the server.
func smtpEnv(t *testing.T) ([]string, *mailtest.Server) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{})
	return srv.Settings(), srv
}
