package browsertest_test

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// TestHarnessOnTheDocsPage proves the harness on a page the service has
// always served: the real service over HTTP, the docs page rendered by
// Chromium, screenshots at both widths, the scan run inside it, and the
// mailed link of a sign-up made through the API.
func TestHarnessOnTheDocsPage(t *testing.T) {
	browser := browsertest.Launch(t)
	axe := browsertest.Axe(t)
	site := browsertest.Serve(t, apptest.SQLite)
	page := browser.NewPage(t)

	if status := page.Open(site.URL + "/docs/"); status != http.StatusOK {
		t.Fatalf("GET /docs/: %d, want 200", status)
	}
	if got := page.Eval(`new Promise(r => { const f = () => document.querySelector('.opblock') ? r('ok') : setTimeout(f, 50); f(); })`); got != "ok" {
		t.Fatalf("the docs page rendered no operation: %q", got)
	}
	for _, px := range []int{browsertest.DesktopWidth, browsertest.PhoneWidth} {
		png := page.Screenshot(px)
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("screenshot at %d px is not a PNG", px)
		}
		if w := pngWidth(png); w != px {
			t.Errorf("screenshot at %d px is %d px wide", px, w)
		}
		if got := page.Eval(`String(document.documentElement.clientWidth)`); got != fmt.Sprint(px) {
			t.Errorf("laid out %s px wide, want %d", got, px)
		}
	}
	// The scan runs in a page with the service's strict policy and reports
	// in the shape CheckAccessibility reads (Swagger UI is not ours to fix:
	// its findings are only logged).
	for _, v := range page.Scan(axe) {
		if v.Rule == "" || v.Impact == "" || len(v.Nodes) == 0 {
			t.Errorf("a violation without rule, impact or elements: %+v", v)
		}
		t.Logf("docs page (Swagger UI): %s (%s) on %d elements", v.Rule, v.Impact, len(v.Nodes))
	}

	// The link of the verification mail, rendered by the service's
	// templates, points at the site.
	register(t, site, "ada@example.com", "ada")
	link := site.MailLink(usertest.MailVerify, "ada@example.com")
	if !strings.Contains(link, "token=") {
		t.Errorf("verification link %q carries no token", link)
	}
	t.Logf("verification link: %s", link)
}

// TestHarnessDrivesAFormByKeyboardAndFindsViolations checks the helpers
// on a page made for it: fields filled, focus moved with Tab, a form
// submitted with Enter, and a scan that fails on what it must.
func TestHarnessDrivesAFormByKeyboardAndFindsViolations(t *testing.T) {
	browser := browsertest.Launch(t)
	axe := browsertest.Axe(t)
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			mu.Lock()
			got = append(got, r.PostForm.Get("login")+"/"+r.PostForm.Get("password"))
			mu.Unlock()
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>done</title><main><h1>Hello %s</h1></main></html>`, html.EscapeString(r.PostForm.Get("login")))
			return
		}
		if r.URL.Path == "/bad" {
			// An unlabelled field and grey on white.
			fmt.Fprint(w, `<!doctype html><html lang="en"><title>bad</title><main><h1>Bad</h1>
				<input name="x"><p style="color:#ccc">faint</p></main></html>`)
			return
		}
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>sign in</title><main><h1>Sign in</h1>
			<form method="post"><label for="login">Login</label><input id="login" name="login" autocomplete="username">
			<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
			<button type="submit">Sign in</button></form></main></html>`)
	}))
	t.Cleanup(srv.Close)
	page := browser.NewPage(t)
	page.Open(srv.URL)
	page.CheckAccessibility(axe, "test form")

	page.Press(browsertest.Tab)
	if f := page.Focused(); f != "#login" {
		t.Fatalf("after Tab the focus is on %q, want #login", f)
	}
	page.Press("ada", browsertest.Tab)
	if f := page.Focused(); f != "#password" {
		t.Fatalf("after the second Tab the focus is on %q, want #password", f)
	}
	if status := page.PressToNavigate("secret", browsertest.Enter); status != http.StatusOK {
		t.Fatalf("Enter: %d, want 200", status)
	}
	if h := page.Text("h1"); h != "Hello ada" {
		t.Errorf("after submitting: %q, want Hello ada", h)
	}
	mu.Lock()
	if len(got) != 1 || got[0] != "ada/secret" {
		t.Errorf("the server received %q, want [ada/secret]", got)
	}
	mu.Unlock()

	page.Open(srv.URL + "/bad")
	rules := map[string]bool{}
	for _, v := range page.Scan(axe) {
		if v.Blocking() {
			rules[v.Rule] = true
		}
	}
	for _, want := range []string{"label", "color-contrast"} {
		if !rules[want] {
			t.Errorf("the scan of a page with an unlabelled field and faint text missed %q (found %v)", want, rules)
		}
	}
}

// register signs up through the API.
func register(t *testing.T, site *browsertest.Site, email, username string) {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"username":%q,"password":"correct horse battery"}`, email, username)
	resp, err := http.Post(site.URL+"/api/v1/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s: %d, want 201", email, resp.StatusCode)
	}
}

// pngWidth reads the width from a PNG's header.
func pngWidth(png []byte) int {
	if len(png) < 24 {
		return 0
	}
	return int(png[16])<<24 | int(png[17])<<16 | int(png[18])<<8 | int(png[19])
}
