package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// An authenticator app's secret and new recovery codes are shown once,
// Post/Redirect/Get (onetime.go), as a client secret is: the POST answers
// 303 See Other to the page that shows them, and a reload of that page
// makes nothing new, so the codes just written down and the secret just
// scanned keep working.

const (
	codesGone     = "These recovery codes were shown once."
	setupGone     = "secret was shown once."
	setupReplaced = "A newer set-up of an authenticator app"
	setupPage     = "/account/mfa/setup"
	codesPage     = "/account/mfa/recovery-codes"
	setupForm     = `action="/account/mfa/setup"`
	codesForm     = `action="/account/mfa/recovery-codes"`
	confirmForm   = `action="/account/mfa/confirm"`
)

// mfaBrowser signs login, who has an authenticator app, in with its code
// a minute on (each code signs in once), and returns the browser.
func mfaBrowser(t *testing.T, s *site, login, secret string) *browser {
	t.Helper()
	s.Clock.Advance(time.Minute)
	b := s.browser()
	p := b.post("/sign-in", url.Values{"login": {login}, "password": {password}})
	p = b.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {totpCode(t, secret, s.Clock.Now())}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %d\n%s", login, p.status, p.body)
	}
	return b
}

// holding posts form to path and checks the answer: 303 to page, with
// the one-time cookie of page and no secret in the body; it returns the
// cookie.
func holding(t *testing.T, b *browser, path string, form url.Values, page string) *http.Cookie {
	t.Helper()
	p := b.post(path, form)
	c := secretCookieOf(p)
	if p.status != http.StatusSeeOther || p.location() != page || c == nil || len(codesOn(p.body)) != 0 || shownSecret.MatchString(p.body) {
		t.Fatalf("POST %s: %d to %q, cookie %v; want 303 to %s with its cookie and nothing shown\n%s", path, p.status, p.location(), c, page, p.body)
	}
	// Browsers keep a cookie of at most 4,096 bytes, name and value.
	if n := len(c.Name) + len(c.Value); n > 4096 {
		t.Errorf("the cookie is %d bytes: a browser would drop it", n)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != page || c.MaxAge != 300 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=%s, Max-Age=300", c, page)
	}
	return c
}

// noStore checks that p is kept out of caches.
func noStore(t *testing.T, p page) {
	t.Helper()
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}

// codesNotShown checks that p is the page without codes, saying they
// were shown once, with the form to make new ones.
func codesNotShown(t *testing.T, p page) {
	t.Helper()
	if p.status != http.StatusOK || len(codesOn(p.body)) != 0 || !strings.Contains(p.body, codesGone) || !strings.Contains(p.body, codesForm) {
		t.Errorf("the codes' page again: %d, want 200 saying they were shown once, with the form and no codes\n%s", p.status, p.body)
	}
	noStore(t, p)
}

// recoveryCodes is how many unused recovery codes u has.
func recoveryCodes(t *testing.T, s *site, u user.User) int {
	t.Helper()
	st, err := s.App.Service().MFAStatus(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st.RecoveryCodes
}

func TestRecoveryCodesAreShownOnceAfterARedirect(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		ada := s.account("ada")
		secret, _ := s.enrolTOTP("ada")
		b := mfaBrowser(t, s, "ada", secret)

		c := holding(t, b, codesPage, url.Values{"current_password": {password}}, codesPage)
		p := b.get(codesPage)
		codes := codesOn(p.body)
		if p.status != http.StatusOK || len(codes) != 10 || !strings.Contains(p.body, "shown only this once") {
			t.Fatalf("the codes' page: %d, %d codes; want 200 with ten\n%s", p.status, len(codes), p.body)
		}
		noStore(t, p)
		cleared(t, p, codesPage)
		raw, _ := base64.RawURLEncoding.DecodeString(c.Value)
		if strings.Contains(string(raw), codes[0]) || strings.Contains(c.Value, codes[0]) {
			t.Error("the cookie holds the codes in the clear")
		}

		// Reload: nothing shown, nothing made; the codes shown still sign in.
		codesNotShown(t, b.get(codesPage))
		if n := recoveryCodes(t, s, ada); n != 10 {
			t.Errorf("after a reload %d recovery codes, want 10", n)
		}
		other := s.browser()
		p = other.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		p = other.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {codes[0]}})
		if p.status != http.StatusSeeOther || other.sessionCookie() == nil {
			t.Errorf("sign-in with a shown code after a reload: %d, want 303 (the codes were not replaced)\n%s", p.status, p.body)
		}
		if n := recoveryCodes(t, s, ada); n != 9 {
			t.Errorf("after signing in with one: %d recovery codes, want 9", n)
		}
		if logs := string(s.Logs.Bytes()); strings.Contains(logs, codes[1]) || strings.Contains(logs, c.Value) {
			t.Error("a recovery code or its cookie is in the logs")
		}
	})
}

func TestAuthenticatorSecretIsShownOnceAfterARedirect(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")

		c := holding(t, b, setupPage, url.Values{"current_password": {password}}, setupPage)
		p := b.get(setupPage)
		m := shownSecret.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) || !strings.Contains(p.body, confirmForm) {
			t.Fatalf("the set-up page: %d, want the secret, the QR code and the code's form\n%s", p.status, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data: 'self'") {
			t.Errorf("set-up CSP %q: want img-src to allow data:", csp)
		}
		noStore(t, p)
		cleared(t, p, setupPage)
		secret := strings.ReplaceAll(m[1], " ", "")
		if raw, _ := base64.RawURLEncoding.DecodeString(c.Value); strings.Contains(string(raw), secret) {
			t.Error("the cookie holds the secret in the clear")
		}

		// Reload: no secret shown, none made; the code form stays for the
		// app scanned already, and setting up again is offered.
		p = b.get(setupPage)
		if p.status != http.StatusOK || shownSecret.MatchString(p.body) || strings.Contains(p.body, "data:image/png") ||
			!strings.Contains(p.body, setupGone) || !strings.Contains(p.body, confirmForm) || !strings.Contains(p.body, setupForm) {
			t.Errorf("the set-up page again: %d, want 200, no secret, the code's form and set-up again\n%s", p.status, p.body)
		}
		noStore(t, p)

		// The secret scanned before the reload still turns the app on.
		p = b.post("/account/mfa/confirm", url.Values{"code": {totpCode(t, secret, s.Clock.Now())}})
		if p.status != http.StatusSeeOther || p.location() != codesPage {
			t.Fatalf("confirm with the first secret after a reload: %d to %q, want 303 (the secret was not replaced)\n%s", p.status, p.location(), p.body)
		}
		if p := b.get(codesPage); len(codesOn(p.body)) != 10 {
			t.Errorf("the codes after turning the app on: %d, want 10\n%s", len(codesOn(p.body)), p.body)
		}
		codesNotShown(t, b.get(codesPage))
		// The app is on: the set-up page has nothing to show.
		if p := b.get(setupPage); p.status != http.StatusSeeOther || p.location() != "/account/mfa" {
			t.Errorf("the set-up page with the app on: %d to %q, want 303 to /account/mfa", p.status, p.location())
		}
		if logs := string(s.Logs.Bytes()); strings.Contains(logs, secret) || strings.Contains(logs, c.Value) {
			t.Error("the secret or its cookie is in the logs")
		}
	})
}

// The cookie fits what a browser keeps (it carries the key's URI, not its
// QR code) even for the longest address.
func TestAuthenticatorSecretCookieFitsALongAddress(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".com"
	if _, err := s.App.Service().Register(t.Context(), user.Registration{Email: long, Username: "ada", Password: password}); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("ada", password, "/account")
	holding(t, b, setupPage, url.Values{"current_password": {password}}, setupPage)
	if p := b.get(setupPage); !shownSecret.MatchString(p.body) || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Errorf("the set-up page of a long address: %d, want the secret and QR code\n%s", p.status, p.body)
	}
}

// The cookie opens only for the session that made it: another user, and
// the same user signed in elsewhere, see nothing with a copy of it; its
// own browser still does.
func TestMFAOneTimeCookieOpensOnlyForItsSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		s.account("bob")
		b := s.browser()
		b.signIn("ada", password, "/account")
		stolen := holding(t, b, setupPage, url.Values{"current_password": {password}}, setupPage)

		bob := s.browser()
		bob.signIn("bob", password, "/account")
		again := s.browser()
		again.signIn("ada", password, "/account")
		for name, other := range map[string]*browser{"another user": bob, "another session of the user": again} {
			other.cookies[stolen.Name] = stolen
			p := other.get(setupPage)
			if shownSecret.MatchString(p.body) || strings.Contains(p.body, "data:image/png") {
				t.Errorf("%s with the cookie sees the secret\n%s", name, p.body)
			}
			cleared(t, p, setupPage)
		}
		anon := s.browser()
		anon.cookies[stolen.Name] = stolen
		if p := anon.get(setupPage); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/sign-in") || shownSecret.MatchString(p.body) {
			t.Errorf("nobody signed in with the cookie: %d to %q, want sent to sign in", p.status, p.location())
		}
		if p := b.get(setupPage); !shownSecret.MatchString(p.body) {
			t.Errorf("the user's own browser does not see the secret\n%s", p.body)
		}
	})
}

// A cookie that does not open (altered, garbage, made for the other page,
// expired) shows nothing, is removed, and fails nothing else.
func TestMFAOneTimeCookieRefusedWhenAltered(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	secret, _ := s.enrolTOTP("ada")
	b := mfaBrowser(t, s, "ada", secret)
	for _, tt := range spoiledCookies() {
		t.Run(tt.name, func(t *testing.T) {
			c := holding(t, b, codesPage, url.Values{"current_password": {password}}, codesPage) //nolint:gosec // G124: a copy of the server's cookie, to alter
			c.Value = tt.alter(c.Value)
			b.cookies[c.Name] = c
			s.Clock.Advance(tt.wait)
			p := b.get(codesPage)
			codesNotShown(t, p)
			cleared(t, p, codesPage)
			if p := b.get("/account/mfa"); p.status != http.StatusOK {
				t.Errorf("the page after a refused cookie: %d", p.status)
			}
		})
	}

	// Made for the set-up page, presented to the codes' page: nothing.
	s.account("bob")
	bob := s.browser()
	bob.signIn("bob", password, "/account")
	c := holding(t, bob, setupPage, url.Values{"current_password": {password}}, setupPage)
	p := bob.get(codesPage) // bob has no app yet: the codes' page sends him to the factors' page
	if p.status != http.StatusSeeOther || p.location() != "/account/mfa" || shownSecret.MatchString(p.body) || strings.Contains(p.body, "data:image/png") || len(codesOn(p.body)) != 0 {
		t.Errorf("a set-up cookie on the codes' page: %d to %q, want 303 to /account/mfa and nothing shown\n%s", p.status, p.location(), p.body)
	}
	cleared(t, p, codesPage)
	bob.cookies[c.Name] = c
	if p := bob.get(setupPage); !shownSecret.MatchString(p.body) {
		t.Errorf("the same cookie on its own page shows no secret\n%s", p.body) // the refusal above was the page's binding
	}
}

// A set-up started in one window and replaced by a newer one elsewhere
// (another device of the same user) before its page was shown does not
// show the replaced secret: an app that scanned it could never turn on.
// The page says a newer set-up replaced it; the newer secret turns the
// app on.
func TestReplacedAuthenticatorSecretIsNotShown(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		first := s.browser()
		first.signIn("ada", password, "/account")
		second := s.browser()
		second.signIn("ada", password, "/account")

		holding(t, first, setupPage, url.Values{"current_password": {password}}, setupPage)
		holding(t, second, setupPage, url.Values{"current_password": {password}}, setupPage)
		m := shownSecret.FindStringSubmatch(second.get(setupPage).body)
		if m == nil {
			t.Fatal("the newer set-up shows no secret")
		}
		newer := strings.ReplaceAll(m[1], " ", "")

		p := first.get(setupPage)
		if p.status != http.StatusOK || shownSecret.MatchString(p.body) || strings.Contains(p.body, "data:image/png") ||
			!strings.Contains(p.body, setupReplaced) || !strings.Contains(p.body, confirmForm) || !strings.Contains(p.body, setupForm) {
			t.Fatalf("the replaced set-up's page: %d, want 200 saying a newer set-up replaced it, no secret, the code's form and set-up again\n%s", p.status, p.body)
		}
		noStore(t, p)
		cleared(t, p, setupPage)

		p = first.post("/account/mfa/confirm", url.Values{"code": {totpCode(t, newer, s.Clock.Now())}})
		if p.status != http.StatusSeeOther || p.location() != codesPage {
			t.Errorf("confirm with the newer secret: %d to %q, want 303 to the codes\n%s", p.status, p.location(), p.body)
		}
	})
}

// The recovery codes' page of an account without an authenticator app (it
// was never set up, or it was removed since the codes were shown) has no
// codes to speak of, shown or to make: it sends the browser to the
// second factors' page instead of saying codes were shown once.
func TestRecoveryCodesPageWithoutAnAppGoesToTheFactors(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	b := s.browser()
	b.signIn("ada", password, "/account")
	if p := b.get(codesPage); p.status != http.StatusSeeOther || p.location() != "/account/mfa" || strings.Contains(p.body, codesGone) {
		t.Errorf("the codes' page of an account without an app: %d to %q, want 303 to /account/mfa\n%s", p.status, p.location(), p.body)
	}

	s.account("bob")
	secret, _ := s.enrolTOTP("bob")
	bob := mfaBrowser(t, s, "bob", secret)
	codesNotShown(t, bob.get(codesPage)) // the app is on: new codes can be made
	if p := bob.post("/account/mfa/remove", url.Values{"current_password": {password}}); p.status != http.StatusSeeOther {
		t.Fatalf("removing the app: %d\n%s", p.status, p.body)
	}
	if p := bob.get(codesPage); p.status != http.StatusSeeOther || p.location() != "/account/mfa" {
		t.Errorf("the codes' page after the app was removed: %d to %q, want 303 to /account/mfa\n%s", p.status, p.location(), p.body)
	}
}
