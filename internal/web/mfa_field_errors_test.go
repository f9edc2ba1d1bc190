package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// TestMFAPagesTieErrorsToTheirFields: a refused code or password on the
// authenticator app's pages and the second step of a sign-in is said on
// its field, as on every other form (aria-invalid, and aria-describedby
// naming the error's text), and once: a screen reader on the field hears
// what is wrong with it.
func TestMFAPagesTieErrorsToTheirFields(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	s.account("bob")
	secret, _ := s.enrolTOTP("ada")
	s.Clock.Advance(time.Minute)
	ada := s.browser()
	p := ada.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
	token := hiddenValue(t, p.body, "mfa_token")
	secondStep := ada.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {"aaaa-bbbb-cccc"}})
	if p := ada.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {totpCode(t, secret, s.Clock.Now())}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in with the app's code: %d\n%s", p.status, p.body)
	}
	bob := s.browser()
	bob.signIn("bob", password, "/account")
	wrong := url.Values{"current_password": {"not the password"}}

	for _, tt := range []struct {
		name   string
		answer page
		input  string // the field's id
		text   string
	}{
		{"second step, a wrong recovery code", secondStep, "f-code", "This code is wrong or was used already."},
		{"set-up, a wrong password", bob.post("/account/mfa/setup", wrong), "setup-password", "The password is incorrect."},
		{"set-up, a wrong first code", func() page {
			bob.post("/account/mfa/setup", url.Values{"current_password": {password}})
			return bob.post("/account/mfa/confirm", url.Values{"code": {"abcdef"}})
		}(), "f-code", "This code is wrong or was used already."},
		{"removal, a wrong password", ada.post("/account/mfa/remove", wrong), "remove-password", "The password is incorrect."},
		{"new recovery codes, no password", ada.post("/account/mfa/recovery-codes", url.Values{}), "codes-password", "Enter your current password to make this change."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.answer.status < 400 {
				t.Fatalf("status %d, want a refusal\n%s", tt.answer.status, tt.answer.body)
			}
			tiedError(t, tt.answer.body, tt.input, tt.text)
		})
	}
}

// tiedError checks that the input id of body is marked invalid and
// described by an element saying text, which the page says once.
func tiedError(t *testing.T, body, id, text string) {
	t.Helper()
	in := regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	if in == "" {
		t.Fatalf("no input #%s\n%s", id, body)
	}
	if !strings.Contains(in, `aria-invalid="true"`) {
		t.Errorf("the input %s is not marked invalid", in)
	}
	described := false
	if m := regexp.MustCompile(`aria-describedby="([^"]*)"`).FindStringSubmatch(in); m != nil {
		for _, ref := range strings.Fields(m[1]) {
			el := regexp.MustCompile(`id="` + regexp.QuoteMeta(ref) + `">([^<]*)<`).FindStringSubmatch(body)
			described = described || (el != nil && el[1] == text)
		}
	}
	if !described {
		t.Errorf("the input %s is not described by %q\n%s", in, text, body)
	}
	if n := strings.Count(body, text); n != 1 {
		t.Errorf("the page says %q %d times, want once, on its field", text, n)
	}
}
