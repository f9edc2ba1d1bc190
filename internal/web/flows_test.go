package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// Sign up, open the mailed verification link (a page with a button: the
// GET uses nothing up), verify, sign in.
func TestSignUpVerifyAndSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		b := s.browser()
		if p := b.get("/sign-up"); p.status != http.StatusOK || !strings.Contains(input(p.body, "password"), `autocomplete="new-password"`) {
			t.Fatalf("sign-up page: %d\n%s", p.status, p.body)
		}
		p := b.post("/sign-up", url.Values{"email": {"ada@example.com"}, "username": {"ada"}, "password": {"short"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(input(p.body, "password"), `aria-invalid="true"`) ||
			!strings.Contains(input(p.body, "password"), `aria-describedby="f-password-hint f-password-error"`) ||
			!strings.Contains(input(p.body, "email"), `value="ada@example.com"`) {
			t.Fatalf("a short password: %d\n%s", p.status, p.body)
		}
		p = b.post("/sign-up", url.Values{"email": {"ada@example.com"}, "username": {"ada"}, "password": {password}})
		if p.status != http.StatusCreated || !strings.Contains(p.body, "Check your email") {
			t.Fatalf("sign up: %d\n%s", p.status, p.body)
		}
		if p := b.post("/sign-up", url.Values{"email": {"ada@example.com"}, "username": {"ada2"}, "password": {password}}); p.status != http.StatusConflict ||
			!strings.Contains(input(p.body, "email"), `aria-invalid="true"`) {
			t.Errorf("the same email again: %d\n%s", p.status, p.body)
		}
		m := s.mail(string(user.MailVerifyEmail), "ada@example.com")
		for range 2 { // a mail scanner's prefetch, then the person
			p = b.get("/verify-email?token=" + url.QueryEscape(m.Token))
			if p.status != http.StatusOK || hiddenValue(t, p.body, "token") != m.Token {
				t.Fatalf("verify page: %d\n%s", p.status, p.body)
			}
		}
		if u, err := s.Stores.Users.ByEmail(t.Context(), "ada@example.com"); err != nil || u.EmailVerified {
			t.Fatalf("after the GETs: verified %v, %v; want not yet", u.EmailVerified, err)
		}
		if p = b.post("/verify-email", url.Values{"token": {m.Token}}); p.status != http.StatusOK || !strings.Contains(p.body, "Email address verified") {
			t.Fatalf("verify: %d\n%s", p.status, p.body)
		}
		if u, _ := s.Stores.Users.ByEmail(t.Context(), "ada@example.com"); !u.EmailVerified {
			t.Error("not verified after the POST")
		}
		if p = b.post("/verify-email", url.Values{"token": {m.Token}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "invalid, expired or already used") {
			t.Errorf("the token again: %d\n%s", p.status, p.body)
		}
		b.signIn("ada", password, "/account")
	})
}

// Forgot password, the mailed reset link, a new password, sign in with it.
func TestForgotAndResetPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		p := b.post("/forgot-password", url.Values{"email": {"ada@example.com"}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "If an account uses that address") {
			t.Fatalf("forgot: %d\n%s", p.status, p.body)
		}
		if p := b.post("/forgot-password", url.Values{"email": {"nobody@example.com"}}); p.status != http.StatusOK || !strings.Contains(p.body, "If an account uses that address") {
			t.Errorf("forgot, unknown address: %d, want the same answer", p.status)
		}
		m := s.mail(string(user.MailResetPassword), "ada@example.com")
		p = b.get("/reset-password?token=" + url.QueryEscape(m.Token))
		if p.status != http.StatusOK || hiddenValue(t, p.body, "token") != m.Token {
			t.Fatalf("reset page: %d\n%s", p.status, p.body)
		}
		const next = "a brand new passphrase here"
		p = b.post("/reset-password", url.Values{"token": {m.Token}, "password": {next}})
		if p.status != http.StatusSeeOther || p.location() != "/sign-in?notice=password_reset" {
			t.Fatalf("reset: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}}); p.status != http.StatusUnauthorized {
			t.Errorf("the old password: %d, want 401", p.status)
		}
		b.signIn("ada", next, "/account")
	})
}

// Profile: the name saves; the email needs the current password; the
// undo link mailed to the previous address brings it back and ends every
// session, the browser's too.
func TestProfileEmailChangeAndUndo(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		p := b.post("/account/profile", url.Values{"full_name": {"Ada Lovelace"}, "email": {"ada@example.com"}})
		if p.status != http.StatusSeeOther || p.location() != "/account?notice=profile_saved" {
			t.Fatalf("save the name: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if p := b.get(p.location()); !strings.Contains(input(p.body, "full_name"), `value="Ada Lovelace"`) || !strings.Contains(p.body, "Your profile is saved.") {
			t.Errorf("the saved name is not shown\n%s", p.body)
		}
		// Past the re-authentication window the email needs the password.
		s.Clock.Advance(2 * 60 * 60 * 1e9)
		p = b.post("/account/profile", url.Values{"full_name": {"Ada Lovelace"}, "email": {"ada@new.example"}})
		if p.status != http.StatusForbidden || !strings.Contains(input(p.body, "current_password"), `aria-invalid="true"`) {
			t.Fatalf("email without the password: %d\n%s", p.status, p.body)
		}
		p = b.post("/account/profile", url.Values{"full_name": {"Ada Lovelace"}, "email": {"ada@new.example"}, "current_password": {"wrong one"}})
		if p.status != http.StatusUnauthorized || !strings.Contains(input(p.body, "current_password"), `aria-invalid="true"`) {
			t.Fatalf("email with a wrong password: %d\n%s", p.status, p.body)
		}
		p = b.post("/account/profile", url.Values{"full_name": {"Ada Lovelace"}, "email": {"ada@new.example"}, "current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/account?notice=email_changed" {
			t.Fatalf("email with the password: %d to %q\n%s", p.status, p.location(), p.body)
		}
		undo := s.mail(string(user.MailEmailChanged), "ada@example.com")
		other := s.browser()
		if p := other.get("/undo-email-change?token=" + url.QueryEscape(undo.Token)); p.status != http.StatusOK {
			t.Fatalf("undo page: %d", p.status)
		}
		if p := b.post("/undo-email-change", url.Values{"token": {undo.Token}}); p.status != http.StatusOK || !strings.Contains(p.body, "Email change undone") {
			t.Fatalf("undo: %d\n%s", p.status, p.body)
		}
		if u, _ := s.Stores.Users.ByUsername(t.Context(), "ada"); u.Email != "ada@example.com" {
			t.Errorf("email after undo: %q", u.Email)
		}
		if p := b.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("the page session after undo: %d, want 303 (every session ended)", p.status)
		}
	})
}

// Password change from one of two sessions: the other ends, this one
// stays. Then the sessions page ends the rest one by one and all others.
func TestPasswordChangeAndSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		laptop, phone := s.browser(), s.browser()
		laptop.signIn("ada", password, "/account")
		phone.signIn("ada", password, "/account")
		if p := laptop.get("/account/sessions"); strings.Count(p.body, ">Sign out this one</button>") != 2 || !strings.Contains(p.body, "This session") {
			t.Fatalf("sessions page with two\n%s", p.body)
		}
		p := laptop.post("/account/password", url.Values{"current_password": {"wrong"}, "new_password": {"another good passphrase"}})
		if p.status != http.StatusUnauthorized || !strings.Contains(input(p.body, "current_password"), `aria-invalid="true"`) {
			t.Fatalf("wrong current password: %d\n%s", p.status, p.body)
		}
		p = laptop.post("/account/password", url.Values{"current_password": {password}, "new_password": {"another good passphrase"}})
		if p.status != http.StatusSeeOther || p.location() != "/account/password?notice=password_changed" {
			t.Fatalf("change: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if p := laptop.get("/account"); p.status != http.StatusOK {
			t.Errorf("this session after the change: %d", p.status)
		}
		if p := phone.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("the other session after the change: %d, want 303", p.status)
		}
		// Three sessions again: end one, then all others.
		phone.signIn("ada", "another good passphrase", "/account")
		tablet := s.browser()
		tablet.signIn("ada", "another good passphrase", "/account")
		phoneID := phone.sessionID().String()
		if p := laptop.post("/account/sessions/"+phoneID+"/end", nil); p.status != http.StatusSeeOther || p.location() != "/account/sessions?notice=session_ended" {
			t.Fatalf("end one: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if p := phone.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("the ended session: %d, want 303", p.status)
		}
		if p := laptop.post("/account/sessions/"+phoneID+"/end", nil); p.status != http.StatusNotFound {
			t.Errorf("end it again: %d, want 404", p.status)
		}
		if p := laptop.post("/account/sessions/end-others", nil); p.status != http.StatusSeeOther {
			t.Fatalf("end others: %d", p.status)
		}
		if p := tablet.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("another session after end-others: %d, want 303", p.status)
		}
		if p := laptop.get("/account/sessions"); p.status != http.StatusOK || strings.Count(p.body, ">Sign out this one</button>") != 1 {
			t.Errorf("this session after end-others: %d\n%s", p.status, p.body)
		}
	})
}

// The data export downloads the API's document; deletion needs the
// password and ends the browser's session.
func TestExportAndDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		u := s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		p := b.post("/account/export", nil)
		var doc struct {
			Profile struct {
				Username string `json:"username"`
			} `json:"profile"`
			Sessions []json.RawMessage `json:"sessions"`
		}
		if p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Disposition"), "attachment") ||
			json.Unmarshal([]byte(p.body), &doc) != nil || doc.Profile.Username != "ada" || len(doc.Sessions) != 1 {
			t.Fatalf("export: %d %v\n%s", p.status, p.header, p.body)
		}
		if p := b.post("/account/delete", url.Values{"current_password": {"wrong"}}); p.status != http.StatusUnauthorized ||
			!strings.Contains(input(p.body, "current_password"), `aria-invalid="true"`) {
			t.Fatalf("delete with a wrong password: %d\n%s", p.status, p.body)
		}
		p = b.post("/account/delete", url.Values{"current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/sign-in?notice=deleted" || b.sessionCookie() != nil {
			t.Fatalf("delete: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if _, err := s.Stores.Users.ByID(t.Context(), u.ID); err == nil {
			t.Error("the account is still there")
		}
	})
}
