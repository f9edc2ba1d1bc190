package web_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/usersvc/usersvc/internal/user"
)

// enrolTOTP gives the account login a confirmed TOTP authenticator
// through the service and returns its secret and recovery codes.
func (s *site) enrolTOTP(login string) (string, []string) {
	s.t.Helper()
	tok, err := s.App.Service().Login(context.Background(), login, password, "")
	if err != nil {
		s.t.Fatal(err)
	}
	return s.enrolTOTPFor(s.callerOf(tok.Token))
}

// callerOf is the caller of the API access token tok.
func (s *site) callerOf(tok string) user.Caller {
	s.t.Helper()
	u, sess, err := s.App.Service().Authenticate(context.Background(), tok)
	if err != nil {
		s.t.Fatal(err)
	}
	return user.Caller{User: u, Session: sess}
}

// pageCaller is the caller of b's page session (its cookie names the user
// and the session).
func (s *site) pageCaller(b *browser) user.Caller {
	s.t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(b.sessionCookie().Value)
	if err != nil || len(raw) < 32 {
		s.t.Fatalf("session cookie: %v", err)
	}
	u, sess, err := s.App.Service().Resume(context.Background(), uuid.UUID(raw[:16]), uuid.UUID(raw[16:32]))
	if err != nil {
		s.t.Fatal(err)
	}
	return user.Caller{User: u, Session: sess}
}

// enrolTOTPFor enrols and confirms an authenticator app in c's session,
// which turns the account's second factor on (and so keeps only that
// session of those opened with the password alone), and returns its
// secret and the recovery codes.
func (s *site) enrolTOTPFor(c user.Caller) (string, []string) {
	s.t.Helper()
	ctx, svc := context.Background(), s.App.Service()
	key, err := svc.EnrolTOTP(ctx, c)
	if err != nil {
		s.t.Fatal(err)
	}
	codes, err := svc.ConfirmTOTP(ctx, c, totpCode(s.t, key.Secret, s.Clock.Now()))
	if err != nil {
		s.t.Fatal(err)
	}
	return key.Secret, codes
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestSignInAsksForTheSecondFactor(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		secret, codes := s.enrolTOTP("ada")
		s.Clock.Advance(time.Minute)

		b := s.browser()
		p := b.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}})
		if p.status != http.StatusOK || !strings.Contains(p.body, `action="/sign-in/mfa"`) || b.sessionCookie() != nil {
			t.Fatalf("sign-in of an account with a second factor: %d, session cookie %v; want the code form and no session\n%s", p.status, b.sessionCookie(), p.body)
		}
		token := hiddenValue(t, p.body, "mfa_token")
		if !strings.Contains(input(p.body, "code"), `autocomplete="one-time-code"`) {
			t.Errorf("code input %q: want autocomplete one-time-code", input(p.body, "code"))
		}
		right := totpCode(t, secret, s.Clock.Now())
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		p = b.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {wrong}})
		if p.status != http.StatusBadRequest || !strings.Contains(input(p.body, "code"), `aria-invalid="true"`) || b.sessionCookie() != nil {
			t.Fatalf("a wrong code: %d; want 400 with the field marked and no session\n%s", p.status, p.body)
		}
		s.mail(string(user.MailSecondStepFailed), "ada@example.com") // the owner is told
		p = b.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {right}})
		if p.status != http.StatusSeeOther || p.location() != "/account" {
			t.Fatalf("the right code: %d to %q, want 303 to /account\n%s", p.status, p.location(), p.body)
		}
		if p := b.get("/account"); p.status != http.StatusOK {
			t.Errorf("the account page after the code: %d", p.status)
		}
		// The mfa_token is used up.
		other := s.browser()
		if p := other.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {right}}); p.status != http.StatusBadRequest || other.sessionCookie() != nil {
			t.Errorf("a used mfa_token: %d, want 400 and no session", p.status)
		}

		// A recovery code works in the same field, once.
		b2 := s.browser()
		p = b2.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}, "return_to": {"/account/sessions"}})
		p = b2.post("/sign-in/mfa", url.Values{"mfa_token": {hiddenValue(t, p.body, "mfa_token")}, "code": {codes[0]}, "return_to": {hiddenValue(t, p.body, "return_to")}})
		if p.status != http.StatusSeeOther || p.location() != "/account/sessions" {
			t.Fatalf("a recovery code: %d to %q, want 303 to /account/sessions\n%s", p.status, p.location(), p.body)
		}
		s.mail(string(user.MailRecoveryCodeUsed), "ada@example.com")
	})
}

// TestAdminWithoutFactorIsSentToEnrol: under USERSVC_REQUIRE_MFA_FOR=admin
// an administrator without a second factor who opens the console is sent
// to add one; once enrolled, the password-only page session is refused,
// and a session opened with the code (its amr, read by Resume) opens it.
func TestAdminWithoutFactorIsSentToEnrol(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind, limitsOn("USERSVC_RATE_LIMITS", "off", "USERSVC_REQUIRE_MFA_FOR", "admin"))
		if _, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: password}, "Root"); err != nil {
			t.Fatal(err)
		}
		b := s.browser()
		b.signIn("root", password, "/account")
		p := b.get("/admin/users")
		if p.status != http.StatusSeeOther || p.location() != "/account/mfa?notice=mfa_enrol" {
			t.Fatalf("admin without a factor: %d to %q, want 303 to enrol", p.status, p.location())
		}
		if p := b.get(p.location()); p.status != http.StatusOK || !strings.Contains(p.body, "needs a second factor") {
			t.Errorf("the enrol page: %d, no notice\n%s", p.status, p.body)
		}

		// Enrolled from the console's own session, the one password-only
		// session that outlives turning the factor on.
		secret, _ := s.enrolTOTPFor(s.pageCaller(b))
		s.Clock.Advance(time.Minute)
		if p := b.get("/admin/users"); p.status != http.StatusForbidden || !strings.Contains(p.body, "sign in again with it") {
			t.Errorf("password-only session after enrolling: %d, want 403 asking for the factor\n%s", p.status, p.body)
		}

		b2 := s.browser()
		p = b2.post("/sign-in", url.Values{"login": {"root"}, "password": {password}})
		token := hiddenValue(t, p.body, "mfa_token")
		p = b2.post("/sign-in/mfa", url.Values{"mfa_token": {token}, "code": {totpCode(t, secret, s.Clock.Now())}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("second step: %d\n%s", p.status, p.body)
		}
		if p := b2.get("/admin/users"); p.status != http.StatusOK {
			t.Errorf("session opened with the code: %d, want the console", p.status)
		}
	})
}
