package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// A sign-in opens a usersvc session: the account page shows the user,
// and the session is in the sessions list.
func TestSignInOpensASession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		u := s.account("ada")
		b := s.browser()
		if p := b.get("/account"); p.status != http.StatusSeeOther || p.location() != "/sign-in?return_to=%2Faccount" {
			t.Fatalf("account before sign-in: %d to %q, want 303 to sign in", p.status, p.location())
		}
		b.signIn("ada", password, "/account")
		p := b.get("/account")
		if p.status != http.StatusOK || !strings.Contains(p.body, `value="ada@example.com"`) {
			t.Fatalf("account: %d\n%s", p.status, p.body)
		}
		sessions, _, err := s.App.Service().Sessions(t.Context(), u.ID, nil, 0)
		if err != nil || len(sessions) != 1 || sessions[0].UserAgent != "TestBrowser/1.0" {
			t.Fatalf("sessions = %+v, %v; want the page's one", sessions, err)
		}
		if p := b.get("/account/sessions"); !strings.Contains(p.body, "/account/sessions/"+sessions[0].ID.String()+"/end") {
			t.Errorf("the sessions page does not list the session\n%s", p.body)
		}
		// By email too.
		b2 := s.browser()
		b2.signIn("ADA@example.com", password, "/account")
	})
}

func TestSignInRefusesWrongPasswordOnItsForm(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	b := s.browser()
	p := b.post("/sign-in", url.Values{"login": {`ada"><script>alert(1)</script>`}, "password": {"nope"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `role="alert"`) || b.sessionCookie() != nil {
		t.Fatalf("wrong password: %d, cookie %v\n%s", p.status, b.sessionCookie(), p.body)
	}
	if strings.Contains(p.body, "<script>alert(1)") || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Errorf("the login typed is not escaped\n%s", p.body)
	}
	p = b.post("/sign-in", url.Values{"login": {"ada"}, "password": {""}})
	in := input(p.body, "password")
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(in, `aria-invalid="true"`) ||
		!strings.Contains(in, `aria-describedby="f-password-error"`) || !strings.Contains(p.body, `id="f-password-error"`) {
		t.Errorf("an empty password: %d, input %s\n%s", p.status, in, p.body)
	}
}

// The cookie: HttpOnly, SameSite=Lax, Path=/; Secure and __Host- behind
// https (USERSVC_PUBLIC_URL), plain on development http.
func TestSessionCookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []apptest.Option
		cookie string
		secure bool
	}{
		{"development http", nil, "usersvc_session", false},
		{"https", []apptest.Option{apptest.Env("USERSVC_PUBLIC_URL", "https://auth.example.com")}, "__Host-usersvc_session", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, apptest.SQLite, tt.opts...)
			s.account("ada")
			b := s.browser()
			b.signIn("ada", password, "/account")
			c := b.cookies[tt.cookie]
			if c == nil {
				t.Fatalf("no cookie %s among %v", tt.cookie, b.cookies)
			}
			if !c.HttpOnly || c.Secure != tt.secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %+v: want HttpOnly, Secure=%v, SameSite=Lax, Path=/, no Domain", c, tt.secure)
			}
			dev := b.cookies[strings.Replace(tt.cookie, "session", "device", 1)]
			if dev == nil || !dev.HttpOnly || dev.Secure != tt.secure || !strings.HasPrefix(dev.Value, "d1.") {
				t.Errorf("device cookie %+v", dev)
			}
		})
	}
}

// A cookie cannot be forged: another session's id under the same MAC, a
// changed MAC, or garbage all sign nobody in.
func TestForgedCookiesSignNobodyIn(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	s.account("bob")
	ada, bob := s.browser(), s.browser()
	ada.signIn("ada", password, "/account")
	bob.signIn("bob", password, "/account")
	a, bb := ada.sessionCookie().Value, bob.sessionCookie().Value
	for name, value := range map[string]string{
		"ada's ids, bob's MAC": a[:43] + bb[43:],
		"a flipped MAC":        a[:len(a)-2] + flip(a[len(a)-2:]),
		"garbage":              "not-a-cookie",
		"empty":                "",
	} {
		b := s.browser()
		//nolint:gosec // a request's cookie: its attributes are the answer's business
		b.cookies["usersvc_session"] = &http.Cookie{Name: "usersvc_session", Value: value}
		if p := b.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("%s: %d, want 303 to sign in", name, p.status)
		}
	}
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// Signing out ends the usersvc session: the old cookie, replayed, no
// longer works.
func TestSignOutEndsTheSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		u := s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		old := *b.sessionCookie()
		if p := b.post("/sign-out", nil); p.status != http.StatusSeeOther || p.location() != "/sign-in?notice=signed_out" || b.sessionCookie() != nil {
			t.Fatalf("sign out: %d to %q, cookie %v", p.status, p.location(), b.sessionCookie())
		}
		if sessions, _, _ := s.App.Service().Sessions(t.Context(), u.ID, nil, 0); len(sessions) != 0 {
			t.Errorf("after sign-out: %d live sessions, want 0", len(sessions))
		}
		b.cookies[old.Name] = &old
		if p := b.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("the replayed cookie: %d, want 303 to sign in", p.status)
		}
		if p := b.get("/sign-in?notice=signed_out"); !strings.Contains(p.body, "You are signed out.") {
			t.Errorf("the sign-in page does not say so\n%s", p.body)
		}
	})
}

// TestSigningInAsAnotherEndsThePreviousSession: on a shared browser the
// next person's sign-in ends the session it held for the previous one, as
// signing out would (found by a review: it stayed live until it expired,
// the browser's cookie merely replaced); the same person signing in again
// (prompt=login, max_age, a second factor now asked) keeps the older one,
// which the grants of their apps hang on.
func TestSigningInAsAnotherEndsThePreviousSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		ada := s.account("ada")
		s.account("bob")
		secret, _ := s.enrolTOTP("bob")
		s.Clock.Advance(time.Minute) // past the enrolment's code
		b := s.browser()
		b.signIn("ada", password, "/account")
		adas := *b.sessionCookie()
		b.signIn("ada", password, "/account")
		if p := s.browser().withCookie(adas).get("/account"); p.status != http.StatusOK {
			t.Errorf("ada's older session after she signed in again: %d, want 200", p.status)
		}
		// Bob signs in, with his second factor, on ada's browser.
		p := b.post("/sign-in", url.Values{"login": {"bob"}, "password": {password}})
		p = b.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {totpCode(t, secret, s.Clock.Now())}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("bob's sign-in: %d\n%s", p.status, p.body)
		}
		if sessions, _, _ := s.App.Service().Sessions(t.Context(), ada.ID, nil, 0); len(sessions) != 1 {
			t.Errorf("ada has %d live sessions after bob signed in on her browser, want 1 (the other browser's)", len(sessions))
		}
		if p := s.browser().withCookie(adas).get("/account"); p.status != http.StatusOK {
			t.Errorf("ada's session of the other browser: %d, want 200", p.status)
		}
		// And the next one after bob, with a password alone.
		bobs := *b.sessionCookie()
		b.signIn("ada", password, "/account")
		if p := s.browser().withCookie(bobs).get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("bob's session, replayed after ada signed in on the browser: %d, want 303 to sign in", p.status)
		}
	})
}

// withCookie is b holding c.
func (b *browser) withCookie(c http.Cookie) *browser {
	b.cookies[c.Name] = &c
	return b
}
