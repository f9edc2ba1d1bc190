package systemtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds the browser for the docs test: CI must have it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, "no chromium found: skipping the docs page browser test (apt-get install chromium)")
	return ""
}

// TestDocsPageRendersInABrowser loads /docs in headless Chromium, with no
// network beyond localhost, and checks that Swagger UI rendered every
// operation from the embedded assets. With USERSVC_DOCS_SCREENSHOT set it
// also saves a screenshot there (make docs-screenshot).
func TestDocsPageRendersInABrowser(t *testing.T) {
	browser := chromium(t)
	srv := start(t)
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
