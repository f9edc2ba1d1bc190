package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHealthcheckCommand(t *testing.T) {
	srv := start(t, []string{"USERSVC_DATA_DIR=" + t.TempDir()})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/healthz"}, nil, &out); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Errorf("healthcheck of a live server = %q, %v; want ok", out.String(), err)
	}
	addr := strings.TrimPrefix(srv.base, "http://")
	_, port, _ := strings.Cut(addr, ":")
	if err := run(context.Background(), []string{"healthcheck"}, []string{"USERSVC_ADDR=:" + port}, io.Discard); err != nil {
		t.Errorf("healthcheck from USERSVC_ADDR=:%s = %v, want nil", port, err)
	}
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/nowhere"}, nil, io.Discard); err == nil {
		t.Error("healthcheck of a 404 succeeded, want an error")
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/healthz"}, nil, io.Discard); err == nil {
		t.Error("healthcheck of a stopped server succeeded, want an error")
	}
}

// TestLogsNeverHoldSecrets drives every endpoint, successes and failures,
// with known secrets at the most verbose log level, then searches the logs.
func TestLogsNeverHoldSecrets(t *testing.T) {
	// Mail goes to an SMTP server, not to the development log mailer, which
	// logs the messages (tokens included) by design.
	mailEnv, _ := smtpEnv(t)
	srv := start(t, append([]string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_LOG_LEVEL=debug"}, mailEnv...))
	api := srv.base + "/api/v1"
	const (
		password  = "Secret-Pa55word-One"
		password2 = "Secret-Pa55word-Two"
		bodyMark  = "Body-Marker-Full-Name"
	)
	form := func(user, pass string) string { return url.Values{"username": {user}, "password": {pass}}.Encode() }
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call(t, "POST", api+"/register", "", "application/json", `{"email":"sec@example.com","username":"sec","password":"`+password+`"}`, nil)
	call(t, "POST", api+"/register", "", "application/json", `{"email":"sec@example.com","username":"sec","password":"`+password+`"}`, nil)        // 400
	call(t, "POST", api+"/register", "", "application/json", `{"email":"x@example.com","username":"x1","password":"`+password+`","extra":1}`, nil) // 422
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec", password2), nil)                                            // 401
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec", password), &tok)
	call(t, "GET", api+"/users/me", tok.AccessToken, "", "", nil)
	call(t, "GET", api+"/users/me", tok.AccessToken+"x", "", "", nil) // 401
	call(t, "PUT", api+"/users/me", tok.AccessToken, "application/json", `{"full_name":"`+bodyMark+`"}`, nil)
	call(t, "PUT", api+"/users/me/password", tok.AccessToken, "application/json", `{"current_password":"`+password2+`","new_password":"`+password+`"}`, nil) // 400
	call(t, "PUT", api+"/users/me/password", tok.AccessToken, "application/json", `{"current_password":"`+password+`","new_password":"`+password2+`"}`, nil)
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec@example.com", password2), &tok)
	call(t, "DELETE", api+"/users/me", tok.AccessToken, "", "", nil)
	for _, p := range []string{"/healthz", "/readyz", "/version", "/metrics", "/openapi.json", "/docs/"} {
		call(t, "GET", srv.base+p, "", "", "", nil)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	logs := srv.logs.String()
	if strings.Count(logs, `"msg":"request"`) < 18 {
		t.Fatalf("expected an access-log line per request, got:\n%s", logs)
	}
	for _, secret := range []string{password, password2, bodyMark, tok.AccessToken, "Bearer", "Authorization", "eyJ"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if entry["msg"] == "request" && entry["request_id"] == nil {
			t.Errorf("access-log line without request_id: %s", line)
		}
	}
}

// buildBinary compiles usersvc for tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "usersvc")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERMFinishesInFlightRequests sends SIGTERM to a real process while
// a slow login (bcrypt cost 13) is being served: the login must complete,
// the database be closed and the process exit 0.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "USERSVC_ADDR=127.0.0.1:0", "USERSVC_DATA_DIR="+t.TempDir(), "USERSVC_BCRYPT_COST=13")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	var base string
	for base == "" && lines.Scan() {
		var e struct{ Msg, Addr string }
		_ = json.Unmarshal(lines.Bytes(), &e)
		if e.Msg == "listening" {
			base = "http://" + e.Addr
		}
	}
	if base == "" {
		t.Fatal("the process never listened")
	}
	var rest bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&rest, stdout); close(copied) }()

	if got := call(t, "POST", base+"/api/v1/register", "", "application/json",
		`{"email":"slow@example.com","username":"slow","password":"correct horse"}`, nil); got != http.StatusCreated {
		t.Fatalf("register: %d", got)
	}
	loginDone := make(chan int, 1)
	go func() {
		res, err := http.PostForm(base+"/api/v1/token", url.Values{"username": {"slow"}, "password": {"correct horse"}})
		if err != nil {
			loginDone <- 0
			return
		}
		res.Body.Close()
		loginDone <- res.StatusCode
	}()
	waitInFlight(t, base, 2) // the login and the scrape itself

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status := <-loginDone; status != http.StatusOK {
		t.Errorf("the in-flight login got %d, want 200: shutdown must let it finish", status)
	}
	err = cmd.Wait()
	<-copied
	if err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0\n%s", err, rest.String())
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"database closed"`, `"msg":"stopped"`} {
		if !strings.Contains(rest.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, rest.String())
		}
	}
}

// waitInFlight polls /metrics until at least n requests are being served.
func waitInFlight(t *testing.T, base string, n int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^usersvc_http_requests_in_flight (\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if m := re.FindSubmatch(b); m != nil {
			if got, _ := strconv.Atoi(string(m[1])); got >= n {
				return
			}
		}
	}
	t.Fatalf("never saw %d requests in flight", n)
}

// chromium finds the browser for the docs test: CI must have it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found: CI must install it (apt-get install chromium)")
	}
	t.Skip("no chromium found: skipping the docs page browser test (apt-get install chromium)")
	return ""
}

// TestDocsPageRendersInABrowser loads /docs in headless Chromium, with no
// network beyond localhost, and checks that Swagger UI rendered every
// operation from the embedded assets. With USERSVC_DOCS_SCREENSHOT set it
// also saves a screenshot there (make docs-screenshot).
func TestDocsPageRendersInABrowser(t *testing.T) {
	browser := chromium(t)
	srv := start(t, []string{"USERSVC_DATA_DIR=" + t.TempDir()})
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dom, err := exec.CommandContext(ctx, browser, append(flags, "--dump-dom", srv.base+"/docs/")...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, op := range []string{
		`data-path="/api/v1/register"`, `data-path="/api/v1/token"`, `data-path="/api/v1/users/me"`,
		`data-path="/api/v1/users/me/password"`, `data-path="/healthz"`, `data-path="/readyz"`,
	} {
		if !bytes.Contains(dom, []byte(op)) {
			t.Errorf("the rendered docs page lacks the operation %s", op)
		}
	}
	if n := bytes.Count(dom, []byte(`class="opblock-summary-path"`)); n < 9 {
		t.Errorf("rendered %d operations, want every one (at least 9)", n)
	}
	shot := os.Getenv("USERSVC_DOCS_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "docs.png")
	}
	abs, err := filepath.Abs(shot)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, browser, append(flags, "--window-size=1280,1400", "--screenshot="+abs, srv.base+"/docs/")...).CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, out)
	}
	png, err := os.ReadFile(abs)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("no PNG screenshot at %s: %v", abs, err)
	}
}
