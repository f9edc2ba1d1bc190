package web_test

// The account pages count and refuse what the API's routes that do the
// same count and refuse: each test first shows the API's behaviour, then
// the page's.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// apiToken logs login in at /api/v1/token and returns the access token.
func apiToken(s *site, login string) string {
	s.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {login}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = apiAddr
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, req)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.AccessToken == "" {
		s.t.Fatalf("token for %s: %d %s", login, rec.Code, rec.Body.String())
	}
	return out.AccessToken
}

// apiDo sends a JSON request, with a bearer token unless token is "",
// from the client address addr, and returns its status and body.
func apiDo(s *site, addr, method, path, token, body string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// apiAddr is the client address of the API's requests in these tests.
const apiAddr = "198.51.100.7:1234"

// postFrom is b.post from the client address addr.
func (b *browser) postFrom(addr, path string, form url.Values) page {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.RemoteAddr = addr
	return b.do(req)
}

// TestProfileEmailChangesCountAsTheAPIs: the API allows an account 5
// email changes an hour (USERSVC_RATE_LIMIT_EMAIL_CHANGE), each of which
// tells whether an address is taken and mails the old and the new
// address. The profile page counted only the per-address write limit (60
// a minute), so a signed-in browser probed addresses and mailed any inbox
// at 12 times that rate; it now counts the API's email-change limits.
func TestProfileEmailChangesCountAsTheAPIs(t *testing.T) {
	s := newSite(t, apptest.SQLite, limitsOn())
	s.account("ada")
	s.account("probe")

	// The API: the sixth change within the hour is refused.
	tok := apiToken(s, "probe")
	apiStatus := 0
	for i := range 6 {
		apiStatus, _ = apiDo(s, apiAddr, http.MethodPut, "/api/v1/users/me", tok, fmt.Sprintf(`{"email":"probe%d@elsewhere.example"}`, i))
	}
	if apiStatus != http.StatusTooManyRequests {
		t.Fatalf("API: sixth email change in an hour: %d, want 429 (the premise)", apiStatus)
	}

	// The pages: twelve changes in a row, no password needed within the
	// re-authentication window after the sign-in.
	b := s.browser()
	b.signIn("ada", password, "/account")
	passed := 0
	for i := range 12 {
		p := b.post("/account/profile", url.Values{"email": {fmt.Sprintf("victim%d@elsewhere.example", i)}})
		if p.status == http.StatusSeeOther {
			passed++
		}
	}
	if passed > 5 {
		t.Errorf("pages: %d email changes of one account within a minute, each mailing a new address; the API allows 5 an hour", passed)
	}

	// The same form tells whether an address has an account, as often.
	for i := range 8 {
		s.account(fmt.Sprint("target", i))
	}
	taken := 0
	for i := range 8 {
		p := b.post("/account/profile", url.Values{"email": {fmt.Sprintf("target%d@example.com", i)}})
		if p.status == http.StatusConflict && strings.Contains(p.body, "already") {
			taken++
		}
	}
	if taken > 5 {
		t.Errorf("pages: %d addresses probed as taken by one account within a minute; the API allows 5 an hour", taken)
	}
}

// TestPasswordResetPageCountsPerRecipient: the API limits reset mail to
// one address to 3 an hour from any client
// (USERSVC_RATE_LIMIT_MAIL_RECIPIENT); /forgot-password counted only the
// per-client-address mail limit, so clients at several addresses mailed
// one inbox without bound.
func TestPasswordResetPageCountsPerRecipient(t *testing.T) {
	s := newSite(t, apptest.SQLite, limitsOn())
	s.account("ada")
	s.account("bob")
	// The API: the fourth reset request for one address, from a fourth
	// client address, is refused.
	apiStatus := 0
	for i := range 4 {
		apiStatus, _ = apiDo(s, fmt.Sprintf("198.51.100.%d:4000", i+1), http.MethodPost, "/api/v1/password-reset", "", `{"email":"bob@example.com"}`)
	}
	if apiStatus != http.StatusTooManyRequests {
		t.Fatalf("API: fourth reset request for one address: %d, want 429 (the premise)", apiStatus)
	}

	b := s.browser()
	accepted := 0
	for i := range 8 {
		p := b.postFrom(fmt.Sprintf("203.0.113.%d:4000", i+1), "/forgot-password", url.Values{"email": {"ada@example.com"}})
		if p.status == http.StatusOK {
			accepted++
		}
	}
	// Give the background reset jobs time to mail.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mailed := 0
	for range accepted {
		if _, err := s.Mail.Take(ctx, string(user.MailResetPassword), "ada@example.com"); err != nil {
			break
		}
		mailed++
	}
	if mailed > 3 {
		t.Errorf("pages: %d reset mails to one address from %d client addresses in a moment; the API allows 3 an hour", mailed, accepted)
	}
}

// TestAccountPagesApplyTheMFAPolicyForAll: under
// USERSVC_REQUIRE_MFA_FOR=all the API refuses a session that did not use
// the account's second factor (mfa_login_required) on everything but
// enrolment. The account pages did not apply the policy, so a
// password-only page session of an account with an authenticator app
// listed the sessions and changed the password.
func TestAccountPagesApplyTheMFAPolicyForAll(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_REQUIRE_MFA_FOR", "all"))
	s.account("ada")
	s.account("bob")
	s.account("cleo")
	// A page session opened with the password alone, which turned on an
	// authenticator app (the policy then demands it; turning it on ended
	// the account's other password-only sessions); and an API session of
	// another account, the same way.
	b := s.browser()
	b.signIn("ada", password, "/account")
	secret, _ := s.enrolTOTPFor(s.pageCaller(b))
	tok := apiToken(s, "cleo")
	s.enrolTOTPFor(s.callerOf(tok))
	s.Clock.Advance(time.Minute)

	if st, body := apiDo(s, apiAddr, http.MethodGet, "/api/v1/users/me/sessions", tok, ""); st != http.StatusForbidden || !strings.Contains(body, "mfa_login_required") {
		t.Fatalf("API: password-only session after enrolment: %d %s, want 403 mfa_login_required (the premise)", st, body)
	}
	for _, path := range []string{"/account/sessions", "/account/password", "/account/passkeys", "/account/delete", "/account/apps"} {
		if p := b.get(path); p.status != http.StatusForbidden {
			t.Errorf("pages: a password-only session opens %s: %d, want 403", path, p.status)
		}
	}
	p := b.post("/account/password", url.Values{"current_password": {password}, "new_password": {"a brand new passphrase 42"}})
	if p.status != http.StatusForbidden {
		t.Errorf("pages: a password-only session changes the password: %d to %q, want 403", p.status, p.location())
	}
	for _, path := range []string{"/account", "/account/mfa"} { // the API's readMe and readMFA
		if p := b.get(path); p.status != http.StatusOK {
			t.Errorf("pages: a password-only session opens %s: %d, want 200 (exempt, as on the API)", path, p.status)
		}
	}
	// Signed in with the code, the same pages open.
	strong := s.browser()
	p = strong.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
	p = strong.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {totpCode(t, secret, s.Clock.Now())}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("the second step: %d\n%s", p.status, p.body)
	}
	if p := strong.get("/account/sessions"); p.status != http.StatusOK {
		t.Errorf("a session opened with the code opens /account/sessions: %d, want 200", p.status)
	}
	// An account without a second factor is sent to enrol one.
	nofactor := s.browser()
	nofactor.signIn("bob", password, "/account")
	if p := nofactor.get("/account/sessions"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), mfaPathForTest) {
		t.Errorf("an account without a second factor opens /account/sessions: %d to %q, want 303 to %s", p.status, p.location(), mfaPathForTest)
	}
}

// mfaPathForTest is the authenticator app's page, where the policy sends
// an account to enrol.
const mfaPathForTest = "/account/mfa"

// TestPasswordGuessesCountPerSession: the API counts password changes per
// session (USERSVC_RATE_LIMIT_WRITE_ACCOUNT, 30 a minute) besides per
// client address; a wrong current password there is not counted by the
// login guard, so that per-session limit is what bounds a session thief
// guessing the owner's password from many addresses. /account/password
// counted only per client address, so from 40 addresses a stolen page
// session had 40 guesses in a moment, and more with more addresses. The
// count is the session's: the owner's own browser is not held up.
func TestPasswordGuessesCountPerSession(t *testing.T) {
	s := newSite(t, apptest.SQLite, limitsOn())
	s.account("ada")
	s.account("bob")

	// The API: the 31st guess of one session in a minute is refused.
	tok := apiToken(s, "bob")
	apiStatus := 0
	for i := range 31 {
		body := fmt.Sprintf(`{"current_password":"guess number %d","new_password":"a brand new passphrase 42"}`, i)
		apiStatus, _ = apiDo(s, fmt.Sprintf("198.51.100.%d:4000", i+1), http.MethodPut, "/api/v1/users/me/password", tok, body)
	}
	if apiStatus != http.StatusTooManyRequests {
		t.Fatalf("API: 31st password guess of one session in a minute: %d, want 429 (the premise)", apiStatus)
	}

	b := s.browser()
	b.signIn("ada", password, "/account")
	wrong := 0
	for i := range 40 {
		p := b.postFrom(fmt.Sprintf("203.0.113.%d:4000", i+1), "/account/password",
			url.Values{"current_password": {fmt.Sprint("guess number ", i)}, "new_password": {"a brand new passphrase 42"}})
		if p.status == http.StatusUnauthorized {
			wrong++
		}
	}
	if wrong > 30 {
		t.Errorf("pages: %d wrong current passwords checked for one session within a minute; the API stops one session at 30", wrong)
	}
	// The owner's own browser, another session, is not held up.
	owner := s.browser()
	owner.signIn("ada", password, "/account")
	if p := owner.postFrom("203.0.113.250:4000", "/account/password", url.Values{"current_password": {password}, "new_password": {"a brand new passphrase 42"}}); p.status != http.StatusSeeOther {
		t.Errorf("the owner's session after the thief's guesses: %d, want 303 (changed)", p.status)
	}
}
