package browsertest_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// The bootstrap administrator of the pages' sites, and the password every
// account of these tests starts with.
const (
	adminLogin    = "root"
	adminPassword = "administrator password 1"
	password      = "correct horse battery"
	newPassword   = "a new password, long enough"
)

// newSite serves the service with the pages on, with an administrator.
func newSite(t *testing.T, kind string, env ...string) *browsertest.Site {
	t.Helper()
	return browsertest.Serve(t, kind, append([]string{
		"USERSVC_BOOTSTRAP_ADMIN_EMAIL", "root@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME", adminLogin,
		"USERSVC_BOOTSTRAP_ADMIN_PASSWORD", adminPassword,
	}, env...)...)
}

// signIn signs page in through the form and checks where it lands.
func signIn(t *testing.T, site *browsertest.Site, page *browsertest.Page, login, pw, want string) {
	t.Helper()
	page.Open(site.URL + "/sign-in")
	page.Fill("#f-login", login, "#f-password", pw)
	if status := page.Submit("form[action='/sign-in'] button[type=submit]"); status != http.StatusOK {
		t.Fatalf("sign in as %s: %d, want 200 at %s: %s", login, status, want, page.Body())
	}
	if got := path(t, page.Location()); got != want {
		t.Fatalf("sign in as %s landed on %s, want %s: %s", login, got, want, page.Body())
	}
}

// path is a URL's path and query.
func path(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	return u.RequestURI()
}

// signedOut checks that page's session is over: the account page sends it
// to sign in.
func signedOut(t *testing.T, site *browsertest.Site, page *browsertest.Page, why string) {
	t.Helper()
	page.Open(site.URL + "/account")
	if got := path(t, page.Location()); !strings.HasPrefix(got, "/sign-in") {
		t.Errorf("%s: /account shows %s, want the sign-in page", why, got)
	}
}

// TestSignUpVerifyChangePasswordSessionsSignOut is issue 21's first
// browser flow, on each store: sign up, the verification link from the
// mail, sign in, change the password (which signs out another browser),
// see two sessions and end the other, sign out.
func TestSignUpVerifyChangePasswordSessionsSignOut(t *testing.T) {
	browser := browsertest.Launch(t)
	for _, kind := range apptest.Stores() {
		t.Run(kind, func(t *testing.T) {
			site := newSite(t, kind)
			laptop, phone := browser.NewPage(t), browser.NewPage(t)

			laptop.Open(site.URL + "/sign-up")
			laptop.Fill("#f-email", "ada@example.com", "#f-username", "ada", "#f-password", password)
			if status := laptop.Submit("form[action='/sign-up'] button[type=submit]"); status != http.StatusCreated {
				t.Fatalf("sign up: %d: %s", status, laptop.Body())
			}
			if h := laptop.Text("h1"); h != "Check your email" {
				t.Fatalf("after signing up: %q, want Check your email: %s", h, laptop.Body())
			}

			link := site.MailLink(usertest.MailVerify, "ada@example.com")
			if !strings.HasPrefix(link, site.URL+"/verify-email?token=") {
				t.Fatalf("the verification mail links to %s, want this site's /verify-email", link)
			}
			laptop.Open(link)
			laptop.Submit("form[action='/verify-email'] button[type=submit]")
			if h := laptop.Text("h1"); h != "Email address verified" {
				t.Fatalf("after the verification link: %q: %s", h, laptop.Body())
			}

			signIn(t, site, laptop, "ada@example.com", password, "/account")
			if !strings.Contains(laptop.Body(), "verified") {
				t.Errorf("the account page does not say the address is verified: %s", laptop.Body())
			}
			signIn(t, site, phone, "ada", password, "/account")

			laptop.Open(site.URL + "/account/password")
			laptop.Fill("#f-current_password", password, "#f-new_password", newPassword)
			laptop.Submit("form[action='/account/password'] button[type=submit]")
			if got := path(t, laptop.Location()); got != "/account/password?notice=password_changed" {
				t.Fatalf("after changing the password: %s: %s", got, laptop.Body())
			}
			signedOut(t, site, phone, "the password change")

			signIn(t, site, phone, "ada", newPassword, "/account")
			laptop.Open(site.URL + "/account/sessions")
			if n := laptop.Count("ul.sessions > li"); n != 2 {
				t.Fatalf("the sessions page lists %d sessions, want 2: %s", n, laptop.Body())
			}
			if n := laptop.Count("ul.sessions > li .this"); n != 1 {
				t.Errorf("%d sessions are marked as this one, want 1", n)
			}
			laptop.Submit("ul.sessions > li:not(:has(.this)) form button")
			if got := path(t, laptop.Location()); got != "/account/sessions?notice=session_ended" {
				t.Fatalf("after ending the other session: %s: %s", got, laptop.Body())
			}
			if n := laptop.Count("ul.sessions > li"); n != 1 {
				t.Errorf("after ending the other session the page lists %d, want 1", n)
			}
			signedOut(t, site, phone, "ending the phone's session from the laptop")

			laptop.Open(site.URL + "/account")
			laptop.Submit("form[action='/sign-out'] button")
			if got := path(t, laptop.Location()); got != "/sign-in?notice=signed_out" {
				t.Errorf("after signing out: %s", got)
			}
			signedOut(t, site, laptop, "signing out")
		})
	}
}

// TestForgotPasswordResetSignIn: forgot password, the reset link from the
// mail, sign in with the new password (the old one no longer works).
func TestForgotPasswordResetSignIn(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "grace@example.com", "grace")
	page := browser.NewPage(t)

	page.Open(site.URL + "/sign-in")
	page.Submit("a[href='/forgot-password']")
	page.Fill("#f-email", "grace@example.com")
	if status := page.Submit("form[action='/forgot-password'] button[type=submit]"); status != http.StatusOK {
		t.Fatalf("forgot password: %d: %s", status, page.Body())
	}
	link := site.MailLink(usertest.MailReset, "grace@example.com")
	if !strings.HasPrefix(link, site.URL+"/reset-password?token=") {
		t.Fatalf("the reset mail links to %s, want this site's /reset-password", link)
	}
	page.Open(link)
	page.Fill("#f-password", newPassword)
	page.Submit("form[action='/reset-password'] button[type=submit]")
	if got := path(t, page.Location()); got != "/sign-in?notice=password_reset" {
		t.Fatalf("after the reset: %s: %s", got, page.Body())
	}

	page.Fill("#f-login", "grace", "#f-password", password)
	page.Submit("form[action='/sign-in'] button[type=submit]")
	if !page.Has("[role=alert]") || !strings.HasPrefix(path(t, page.Location()), "/sign-in") {
		t.Fatalf("the old password signed in: %s", page.Body())
	}
	signIn(t, site, page, "grace", newPassword, "/account")
}

// TestKeyboardOnlySignIn signs in with nothing but the keyboard: Tab to
// the login field, type, Tab, type, Enter; each focused element shows
// where the focus is.
func TestKeyboardOnlySignIn(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "alan@example.com", "alan")
	page := browser.NewPage(t)
	page.Open(site.URL + "/sign-in")

	var order []string
	for range 10 {
		page.Press(browsertest.Tab)
		f := page.Focused()
		order = append(order, f)
		if outline := page.Eval(`(() => { const s = getComputedStyle(document.activeElement);
			return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? 'visible' : s.boxShadow !== 'none' ? 'visible' : s.outlineStyle + ' ' + s.outlineWidth; })()`); outline != "visible" {
			t.Errorf("the focused %s shows no focus indicator (outline %s)", f, outline)
		}
		if f == "#f-login" {
			break
		}
	}
	if order[len(order)-1] != "#f-login" {
		t.Fatalf("Tab never reached the login field: %v", order)
	}
	t.Logf("Tab order to the login field: %v", order)
	page.Press("alan", browsertest.Tab)
	if f := page.Focused(); f != "#f-password" {
		t.Fatalf("Tab from the login field went to %s, want #f-password", f)
	}
	page.PressToNavigate(password, browsertest.Enter)
	if got := page.Location(); got != site.URL+"/account" {
		t.Fatalf("Enter on the sign-in form landed on %s, want /account: %s", got, page.Body())
	}
}

// TestCrossSiteFormPostIsRefused: a page of another origin on this
// machine, which the signed-in browser visits, posts a form to the
// service by itself. The service refuses it (403) and nothing changes:
// from another port of the same address (same site, so the Lax session
// cookie goes along) and from another address (another site).
func TestCrossSiteFormPostIsRefused(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "eve@example.com", "eve")
	page := browser.NewPage(t)
	signIn(t, site, page, "eve", password, "/account")

	attack := fmt.Sprintf(`<!doctype html><html lang="en"><title>prize</title><body>
		<form method="post" action="%s/account/profile"><input name="full_name" value="Pwned">
		<input name="email" value="eve@example.com"></form>
		<script>document.forms[0].submit()</script></body></html>`, site.URL)
	for _, host := range []string{"127.0.0.1", "127.0.0.2"} {
		t.Run(host, func(t *testing.T) {
			ln, err := net.Listen("tcp", host+":0")
			if err != nil {
				t.Skipf("no loopback address %s here: %v", host, err)
			}
			evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, attack)
			}))
			_ = evil.Listener.Close()
			evil.Listener = ln
			evil.Start()
			t.Cleanup(evil.Close)

			page.Open(evil.URL)
			// The form posts itself: wait for the service's answer.
			status := page.Eval(fmt.Sprintf(`new Promise(r => { const f = () => location.href.startsWith(%q) && document.readyState === 'complete' ?
				r(String(performance.getEntriesByType('navigation')[0].responseStatus)) : setTimeout(f, 50); f(); })`, site.URL))
			if status != "403" {
				t.Errorf("a form posted from %s: %s, want 403: %s", evil.URL, status, page.Body())
			}
			page.Open(site.URL + "/account")
			if got := page.Eval(`document.querySelector('#f-full_name').value`); got == "Pwned" {
				t.Errorf("the cross-site post from %s changed the name", evil.URL)
			}
			if got := path(t, page.Location()); got != "/account" {
				t.Errorf("after the refused post the browser is at %s, want still signed in at /account", got)
			}
		})
	}
}

// TestReturnToAnotherOriginIsRefused: after sign-in the browser goes back
// only to this service (or an allow-listed origin), never elsewhere.
func TestReturnToAnotherOriginIsRefused(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "mallory@example.com", "mallory")
	for _, tt := range []struct{ returnTo, want string }{
		{"http://127.0.0.2:9/steal", "/account"},
		{"//evil.example/steal", "/account"},
		{"https://evil.example/", "/account"},
		{`/\evil.example`, "/account"},
		{"javascript:alert(1)", "/account"},
		{"/account/sessions", "/account/sessions"},
		{site.URL + "/account/password", "/account/password"},
	} {
		t.Run(tt.returnTo, func(t *testing.T) {
			page := browser.NewPage(t)
			page.Open(site.URL + "/sign-in?return_to=" + url.QueryEscape(tt.returnTo))
			page.Fill("#f-login", "mallory", "#f-password", password)
			page.Submit("form[action='/sign-in'] button[type=submit]")
			loc := page.Location()
			if !strings.HasPrefix(loc, site.URL+"/") || path(t, loc) != tt.want {
				t.Errorf("return_to=%s: landed on %s, want %s%s", tt.returnTo, loc, site.URL, tt.want)
			}
		})
	}
}

// TestAdminDeactivatesAUserWhosePageSessionEnds: an administrator finds a
// user in the console by part of the email, deactivates them, and the
// page session that user has open ends on its next request.
func TestAdminDeactivatesAUserWhosePageSessionEnds(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "linus@example.com", "linus")
	register(t, site, "other@example.com", "other")
	victim, admin := browser.NewPage(t), browser.NewPage(t)
	signIn(t, site, victim, "linus", password, "/account")

	signIn(t, site, admin, adminLogin, adminPassword, "/account")
	admin.Open(site.URL + "/admin")
	if got := path(t, admin.Location()); got != "/admin/users" {
		t.Fatalf("/admin shows %s, want /admin/users", got)
	}
	admin.Fill("#f-search", "nus@exam")
	admin.Submit("form[role=search] button[type=submit]")
	if n := admin.Count("tbody tr th a"); n != 1 {
		t.Fatalf("searching for part of the email lists %d users, want 1: %s", n, admin.Body())
	}
	admin.Submit("tbody tr th a")
	if !strings.Contains(admin.Body(), "linus@example.com") {
		t.Fatalf("the user's page does not show linus: %s", admin.Body())
	}
	admin.Submit("a.button.danger[href$='/deactivate']")
	admin.Submit("main form button[type=submit]")
	if got := path(t, admin.Location()); !strings.Contains(got, "notice=") {
		t.Fatalf("after deactivating: %s: %s", got, admin.Body())
	}
	if !strings.Contains(admin.Body(), "Deactivated") {
		t.Errorf("the user's page does not show the account inactive: %s", admin.Body())
	}

	signedOut(t, site, victim, "deactivation by an administrator")
	victim.Fill("#f-login", "linus", "#f-password", password)
	victim.Submit("form[action='/sign-in'] button[type=submit]")
	if got := path(t, victim.Location()); !strings.HasPrefix(got, "/sign-in") {
		t.Errorf("a deactivated user signed in again: %s", got)
	}
}
