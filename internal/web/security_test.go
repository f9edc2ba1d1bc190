package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web"
)

func TestPagesSendTheSecurityHeaders(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_UI_LOGO_URL", "https://cdn.example.com/logo.svg",
		"USERSVC_PUBLIC_URL", "https://auth.example.com", "USERSVC_UI_RETURN_TO_ORIGINS", "https://app.example.com"))
	for _, path := range []string{"/sign-in", "/sign-up", "/forgot-password", "/reset-password?token=x", "/verify-email?token=x"} {
		p := s.browser().get(path)
		want := "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' https://cdn.example.com; form-action 'self' https://app.example.com https://auth.example.com; frame-ancestors 'none'; base-uri 'none'"
		if got := p.header.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP %q, want %q", path, got, want)
		}
		for name, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store",
			"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
			if got := p.header.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", path, name, got, want)
			}
		}
		if p.status != http.StatusOK || strings.Count(p.body, "<script") != strings.Count(p.body, `<script src="/assets/passkey.js" defer></script>`) || strings.Contains(p.body, " style=") ||
			!strings.Contains(p.body, `<img src="https://cdn.example.com/logo.svg"`) {
			t.Errorf("%s: %d, or an inline script or style, or no logo\n%s", path, p.status, p.body)
		}
		t.Logf("%s: %d bytes", path, len(p.body))
		if len(p.body) > 50<<10 {
			t.Errorf("%s weighs %d bytes, over 50 KB", path, len(p.body))
		}
	}
}

// Cross-site form posts are refused, by Sec-Fetch-Site and, from browsers
// that do not send it, by an Origin other than the host.
func TestCrossSiteFormPostsAreRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		u := s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		for name, header := range map[string][]string{
			"Sec-Fetch-Site: cross-site": {"Sec-Fetch-Site", "cross-site"},
			"Sec-Fetch-Site: same-site":  {"Sec-Fetch-Site", "same-site"},
			"a foreign Origin":           {"Sec-Fetch-Site", "", "Origin", "https://evil.example"},
		} {
			p := b.post("/account/sessions/end-others", nil, header...)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "sent from another site") {
				t.Errorf("%s: %d, want 403\n%s", name, p.status, p.body)
			}
			p = b.post("/sign-out", nil, header...)
			if p.status != http.StatusForbidden {
				t.Errorf("%s sign-out: %d, want 403", name, p.status)
			}
			p = b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}}, header...)
			if p.status != http.StatusForbidden {
				t.Errorf("%s sign-in (login CSRF): %d, want 403", name, p.status)
			}
		}
		if sessions, _, _ := s.App.Service().Sessions(t.Context(), u.ID, nil, 0); len(sessions) != 1 {
			t.Errorf("%d sessions after the refused posts, want the one", len(sessions))
		}
		// The same origin, by Origin alone, passes.
		if p := b.post("/sign-out", nil, "Sec-Fetch-Site", "", "Origin", "http://example.com"); p.status != http.StatusSeeOther {
			t.Errorf("same-origin post by Origin: %d, want 303", p.status)
		}
	})
}

// An administrator deactivating a user ends their page session at its
// next request.
func TestDeactivationEndsThePageSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		u := s.account("ada")
		admin, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: password}, "")
		if err != nil {
			t.Fatal(err)
		}
		b := s.browser()
		b.signIn("ada", password, "/account")
		if p := b.get("/account"); p.status != http.StatusOK {
			t.Fatalf("account: %d", p.status)
		}
		off := false
		if _, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: admin}, u.ID, user.Patch{IsActive: &off}); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/sign-in") {
			t.Errorf("after deactivation: %d to %q, want 303 to sign in", p.status, p.location())
		}
		if b.sessionCookie() != nil {
			t.Error("the dead session's cookie was not removed")
		}
		if _, _, ok := s.App.Pages().Current(httptestRequestWith(t, "usersvc_session", "")); ok {
			t.Error("Current without a cookie: ok")
		}
	})
}

func httptestRequestWith(t *testing.T, name, value string) *http.Request {
	t.Helper()
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
	if value != "" {
		//nolint:gosec // a request's cookie: its attributes are the answer's business
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return r
}

// Failed sign-ins on the page and at /token count in one lockout of the
// account and one per-address limit.
func TestPageAndTokenShareTheLoginCounts(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_RATE_LIMIT_LOGIN", "off"))
		s.account("ada")
		b := s.browser()
		for i := range 2 { // distinct passwords: a repeated one counts once
			if p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {fmt.Sprint("wrong password ", i)}}); p.status != http.StatusUnauthorized {
				t.Fatalf("a wrong password on the page: %d", p.status)
			}
		}
		if st := tokenLogin(s, "ada", "wrong password at token"); st != http.StatusUnauthorized {
			t.Fatalf("a wrong password at /token: %d", st)
		}
		p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many failed sign-ins") {
			t.Errorf("the right password after 3 failures on both: %d, want 429 locked\n%s", p.status, p.body)
		}
	})
	t.Run("per address", func(t *testing.T) {
		s := newSite(t, apptest.SQLite, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m"))
		s.account("ada")
		b := s.browser()
		b.post("/sign-in", url.Values{"login": {"ada"}, "password": {"wrong password 1"}})
		b.post("/sign-in", url.Values{"login": {"bob"}, "password": {"wrong password 1"}})
		tokenLogin(s, "carol", "x")
		if p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}}); p.status != http.StatusTooManyRequests {
			t.Errorf("a fourth login from one address (pages and /token): %d, want 429", p.status)
		}
	})
	t.Run("per address, sign-ins that prove their password not counted", func(t *testing.T) {
		// Five people of one office (one address) sign in on the pages:
		// none is refused, and guessing from there still is, after three.
		s := newSite(t, apptest.SQLite, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m"))
		names := []string{"ada", "bob", "carol", "dan", "eve"}
		for _, name := range names {
			s.account(name)
			b := s.browser()
			if p := b.post("/sign-in", url.Values{"login": {name}, "password": {password}}); p.status != http.StatusSeeOther {
				t.Fatalf("%s signing in from the office's address: %d, want 303\n%s", name, p.status, p.body)
			}
		}
		b := s.browser()
		for i := range 3 {
			b.post("/sign-in", url.Values{"login": {"ada"}, "password": {"wrong password " + strconv.Itoa(i)}})
		}
		if p := b.post("/sign-in", url.Values{"login": {"bob"}, "password": {password}}); p.status != http.StatusTooManyRequests {
			t.Errorf("a sign-in after three wrong passwords from the address: %d, want 429", p.status)
		}
	})
}

// The browser's device token lets its owner sign in while failures from
// elsewhere keep the account locked.
func TestDeviceCookieKeepsTheOwnerIn(t *testing.T) {
	s := newSite(t, apptest.SQLite, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_RATE_LIMIT_LOGIN", "off"))
	s.account("ada")
	owner := s.browser()
	owner.signIn("ada", password, "/account")
	owner.post("/sign-out", nil)
	for i := range 3 {
		tokenLogin(s, "ada", fmt.Sprint("an attacker's guess ", i))
	}
	if p := s.browser().post("/sign-in", url.Values{"login": {"ada"}, "password": {password}}); p.status != http.StatusTooManyRequests {
		t.Fatalf("a new browser with the right password while locked: %d, want 429", p.status)
	}
	owner.signIn("ada", password, "/account")
}

// tokenLogin tries a password grant at /token and returns its status.
func tokenLogin(s *site, login, pw string) int {
	form := url.Values{"grant_type": {"password"}, "username": {login}, "password": {pw}}
	req, _ := http.NewRequestWithContext(s.t.Context(), http.MethodPost, "/api/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.1:1234"
	return serve(s, req)
}

func serve(s *site, req *http.Request) int {
	b := s.browser()
	return b.do(req).status
}

// return_to: a path of this service or an allowed origin, never anywhere
// else.
func TestReturnToOnlyToAllowedPlaces(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_PUBLIC_URL", "http://auth.example.com", "USERSVC_UI_RETURN_TO_ORIGINS", "https://app.example.com"))
	s.account("ada")
	for _, tt := range []struct{ returnTo, want string }{
		{"/account/sessions", "/account/sessions"},
		{"/oauth/authorize?client_id=x&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid%20email", "/oauth/authorize?client_id=x&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid%20email"},
		{"https://app.example.com/welcome?x=1", "https://app.example.com/welcome?x=1"},
		{"http://auth.example.com/account", "http://auth.example.com/account"},
		{"//evil.example", "/account"},
		{"///evil.example", "/account"},
		{"https://evil.example", "/account"},
		{"https://app.example.com.evil.example/", "/account"},
		{"https://app.example.com@evil.example/", "/account"},
		{"http://app.example.com/", "/account"}, // the allowed origin is https
		{`/\evil.example`, "/account"},
		{`\\evil.example`, "/account"},
		{"/%2Fevil.example", "/account"},
		{"/%2F%2Fevil.example", "/account"},
		{"/%5Cevil.example", "/account"},
		{"/%252F%252Fevil.example", "/account"},
		{"javascript:alert(1)", "/account"},
		{"JaVaScRiPt:alert(1)", "/account"},
		{"data:text/html,<script>alert(1)</script>", "/account"},
		{"/\t/evil.example", "/account"},
		{" /account", "/account"},
		{"evil.example", "/account"},
	} {
		b := s.browser()
		p := b.get("/sign-in?return_to=" + url.QueryEscape(tt.returnTo))
		back := ""
		if strings.Contains(p.body, `name="return_to"`) {
			back = hiddenValue(t, p.body, "return_to")
		}
		// Posted as is, whatever the page kept: the post is checked again.
		got := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}, "return_to": {tt.returnTo}})
		if got.location() != tt.want {
			t.Errorf("return_to %q: to %q, want %q (the form kept %q)", tt.returnTo, got.location(), tt.want, back)
		}
		// Signed in already, the sign-in page sends the browser on the same way.
		if p := b.get("/sign-in?return_to=" + url.QueryEscape(tt.returnTo)); p.location() != tt.want {
			t.Errorf("signed in, return_to %q: to %q, want %q", tt.returnTo, p.location(), tt.want)
		}
	}
}

// USERSVC_UI=off removes every page route.
func TestUIOffServesNoPage(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_UI", "off"))
	if s.App.Pages() != nil {
		t.Error("Pages() is not nil with the pages off")
	}
	b := s.browser()
	for _, path := range []string{"/sign-in", "/sign-up", "/forgot-password", "/reset-password", "/verify-email",
		"/undo-email-change", "/account", "/account/sessions", "/account/password", "/account/delete", "/assets/app.css"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, p.status)
		}
	}
	for _, path := range []string{"/sign-in", "/sign-out", "/sign-up", "/account/profile"} {
		if p := b.post(path, nil); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, p.status)
		}
	}
	if p := b.get("/healthz"); p.status != http.StatusOK {
		t.Errorf("the API is gone too: /healthz %d", p.status)
	}
}

// The stylesheet is cacheable: a versioned URL for a year, an ETag that
// answers 304, the accent colour in.
func TestStylesheetIsCacheable(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_UI_ACCENT_COLOR", "#7a1f5c"))
	b := s.browser()
	page := b.get("/sign-in")
	i := strings.Index(page.body, `<link rel="stylesheet" href="`)
	if i < 0 {
		t.Fatalf("no stylesheet link\n%s", page.body)
	}
	href := page.body[i+len(`<link rel="stylesheet" href="`):]
	href = href[:strings.IndexByte(href, '"')]
	if !strings.HasPrefix(href, "/assets/app.css?v=") {
		t.Fatalf("stylesheet href %q", href)
	}
	css := b.get(href)
	if css.status != http.StatusOK || css.header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		css.header.Get("ETag") == "" || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		!strings.Contains(css.body, "--accent:#7a1f5c") {
		t.Fatalf("stylesheet: %d %v\n%s", css.status, css.header, css.body)
	}
	b.header.Set("If-None-Match", css.header.Get("ETag"))
	if p := b.get("/assets/app.css"); p.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", p.status)
	}
	if len(css.body) > 8<<10 {
		t.Errorf("the stylesheet weighs %d bytes, want a small one", len(css.body))
	}
}

// TestEveryFormPostIsRefusedCrossSite: every POST route of the pages,
// the console's and the account's alike, refuses a cross-site post
// before it acts, and its refusal carries the pages' headers.
func TestEveryFormPostIsRefusedCrossSite(t *testing.T) {
	s, admin, root := adminSite(t, apptest.SQLite)
	posts := 0
	for _, pattern := range web.RoutePatterns(s.App.Pages()) {
		method, path, _ := strings.Cut(pattern, " ")
		if method != http.MethodPost {
			continue
		}
		posts++
		path = strings.ReplaceAll(path, "{id}", root.ID.String())
		form := url.Values{"confirm": {"yes"}, "role": {"user"}, "current_password": {password}}
		p := admin.post(path, form, "Sec-Fetch-Site", "cross-site")
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "sent from another site") {
			t.Errorf("cross-site POST %s: %d, want 403\n%s", path, p.status, p.body)
		}
		if got := p.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("cross-site POST %s: X-Frame-Options %q", path, got)
		}
	}
	if posts < 30 {
		t.Errorf("%d POST routes, want the 30 and more the pages have", posts)
	}
	if u, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: root}, root.ID, user.Patch{}); err != nil || !u.IsAdmin() || !u.IsActive {
		t.Errorf("root after the refused posts: %+v, %v", u, err)
	}
	if p := admin.get("/admin/users"); p.status != http.StatusOK {
		t.Errorf("root's page session after the refused posts: %d, want 200", p.status)
	}
}

// TestErrorAnswersCarryTheSecurityHeaders: the pages' refusals and
// errors (not allowed, not found, another site, the wrong method, no such
// page) cannot be framed, cached or leak their address as a referrer, as
// the pages cannot.
func TestErrorAnswersCarryTheSecurityHeaders(t *testing.T) {
	s, admin, _ := adminSite(t, apptest.SQLite)
	s.account("ada")
	ada := s.browser()
	ada.signIn("ada", password, "/account")
	for _, tt := range []struct {
		name   string
		answer page
		status int
	}{
		{"the console for a user", ada.get("/admin/users"), http.StatusForbidden},
		{"no such user", admin.get("/admin/users/" + uuid.NewString()), http.StatusNotFound},
		{"a cross-site post", ada.post("/account/profile", url.Values{"email": {"x@example.com"}}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden},
		{"sign-out by GET", ada.get("/sign-out"), http.StatusMethodNotAllowed},
		{"a token page's post by GET", ada.get("/account/sessions/end-others"), http.StatusMethodNotAllowed},
		{"no such page", ada.get("/account/nothing-here"), http.StatusNotFound},
	} {
		p := tt.answer
		if p.status != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, p.status, tt.status)
		}
		for name, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store",
			"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := p.header.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", tt.name, name, got, want)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q, want default-src and frame-ancestors 'none'", tt.name, csp)
		}
	}
}
