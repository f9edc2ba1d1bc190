package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	shownSecret = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)
	shownCodes  = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// codesOn are the recovery codes a page shows.
func codesOn(body string) []string {
	var out []string
	for _, m := range shownCodes.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestAuthenticatorAppThroughThePages: a user sets up an authenticator
// app on /account/mfa (secret and QR code shown, a wrong first code
// refused), turns it on with its code, is shown ten recovery codes once,
// and signs in later with password and code, and with a recovery code.
func TestAuthenticatorAppThroughThePages(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")

		p := b.get("/account/mfa")
		if p.status != http.StatusOK || !strings.Contains(p.body, "No authenticator app is set up") {
			t.Fatalf("/account/mfa: %d\n%s", p.status, p.body)
		}
		if p := b.post("/account/mfa/setup", url.Values{"current_password": {"wrong password"}}); p.status != http.StatusUnauthorized || strings.Contains(p.body, `class="secret"`) {
			t.Fatalf("set-up with a wrong password: %d, want 401 and no secret", p.status)
		}
		p = b.post("/account/mfa/setup", url.Values{"current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/account/mfa/setup" {
			t.Fatalf("set-up: %d to %q, want 303 to the set-up page\n%s", p.status, p.location(), p.body)
		}
		p = b.get(p.location())
		m := shownSecret.FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
			t.Fatalf("set-up: %d, want the secret and the QR code\n%s", p.status, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data: 'self'") || strings.Contains(csp, "script-src 'self' data:") {
			t.Errorf("set-up CSP %q: want img-src to allow data: and nothing else changed", csp)
		}
		if cc := p.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("set-up Cache-Control %q, want no-store", cc)
		}
		if !strings.Contains(input(p.body, "code"), `autocomplete="one-time-code"`) {
			t.Errorf("confirm code input %q: want autocomplete one-time-code", input(p.body, "code"))
		}
		secret := strings.ReplaceAll(m[1], " ", "")

		right := totpCode(t, secret, s.Clock.Now())
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		p = b.post("/account/mfa/confirm", url.Values{"code": {wrong}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "This code is wrong or was used already.") ||
			!strings.Contains(input(p.body, "code"), `aria-invalid="true"`) || strings.Contains(p.body, `class="secret"`) {
			t.Fatalf("a wrong first code: %d, want 400 with the catalogue's text\n%s", p.status, p.body)
		}
		p = b.post("/account/mfa/confirm", url.Values{"code": {right}})
		if p.status != http.StatusSeeOther || p.location() != "/account/mfa/recovery-codes" || len(codesOn(p.body)) != 0 {
			t.Fatalf("confirm: %d to %q, want 303 to the recovery codes' page, no codes\n%s", p.status, p.location(), p.body)
		}
		p = b.get(p.location())
		codes := codesOn(p.body)
		if p.status != http.StatusOK || len(codes) != 10 || !strings.Contains(p.body, "shown only this once") ||
			!strings.Contains(p.body, "The authenticator app is on") {
			t.Fatalf("confirm: %d, %d codes, want 200 with ten codes and the notice\n%s", p.status, len(codes), p.body)
		}
		if p := b.get("/account/mfa"); len(codesOn(p.body)) != 0 || !strings.Contains(p.body, "Recovery codes left: 10") {
			t.Errorf("the page again shows codes %v or no count\n%s", codesOn(p.body), p.body)
		}

		s.Clock.Advance(time.Minute)
		b.post("/sign-out", nil)
		b2 := s.browser()
		p = b2.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		p = b2.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {totpCode(t, secret, s.Clock.Now())}})
		if p.status != http.StatusSeeOther || b2.sessionCookie() == nil {
			t.Fatalf("sign-in with password and code: %d\n%s", p.status, p.body)
		}
		b3 := s.browser()
		p = b3.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		p = b3.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {codes[3]}})
		if p.status != http.StatusSeeOther || b3.sessionCookie() == nil {
			t.Fatalf("sign-in with a shown recovery code: %d\n%s", p.status, p.body)
		}
	})
}

// TestAuthenticatorAppRemovalAndNewCodes: removing the app and making new
// recovery codes need the current password; new codes are shown once and
// the old ones stop working.
func TestAuthenticatorAppRemovalAndNewCodes(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		secret, old := s.enrolTOTP("ada")
		s.Clock.Advance(time.Minute)
		b := s.browser()
		p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		p = b.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {totpCode(t, secret, s.Clock.Now())}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign-in: %d\n%s", p.status, p.body)
		}

		if p := b.post("/account/mfa/remove", url.Values{}); p.status != http.StatusForbidden || !strings.Contains(p.body, "Enter your current password to make this change.") {
			t.Fatalf("remove without the current password: %d, want 403\n%s", p.status, p.body)
		}
		if p := b.get("/account/mfa"); !strings.Contains(p.body, "An authenticator app is set up") {
			t.Fatalf("after the refused removal the app is off\n%s", p.body)
		}
		p = b.post("/account/mfa/recovery-codes", url.Values{"current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/account/mfa/recovery-codes" {
			t.Fatalf("new recovery codes: %d to %q, want 303 to their page\n%s", p.status, p.location(), p.body)
		}
		p = b.get(p.location())
		codes := codesOn(p.body)
		if p.status != http.StatusOK || len(codes) != 10 || codes[0] == old[0] {
			t.Fatalf("new recovery codes: %d, %v\n%s", p.status, codes, p.body)
		}
		p = b.post("/account/mfa/remove", url.Values{"current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/account/mfa?notice=totp_removed" {
			t.Fatalf("remove: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if p := b.get(p.location()); !strings.Contains(p.body, "No authenticator app is set up") {
			t.Errorf("after removal\n%s", p.body)
		}
	})
}
