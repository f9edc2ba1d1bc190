package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

// startTOTP enrols a TOTP authenticator for the session of token and
// returns its secret and the handle of the set-up.
func (s *server) startTOTP(token string) (secret, setup string) {
	s.t.Helper()
	res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("enrol: got %v, want 201", res)
	}
	key := res.object(s.t)
	setup, _ = key["setup"].(string)
	if setup == "" {
		s.t.Errorf("enrolment %v: no setup handle", keysOf(key))
	}
	return key["secret"].(string), setup
}

// confirmTOTPSetup sends the first code of the set-up whose handle is
// setup.
func (s *server) confirmTOTPSetup(token, code, setup string) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp/confirm", token: token,
		body: jsonBody(map[string]string{"code": code, "setup": setup})})
}

// TestConfirmingAReplacedTOTPSetup: set-up started twice (two tabs), the
// first code of an app that scanned the first, replaced secret answered
// invalid_code, as a mistyped code does, and the user could not tell
// that they must scan the newer QR code. With the setup handle of its
// enrolment, such a code now answers 409 totp_setup_replaced, and
// nothing more; a code of neither secret stays invalid_code, a code of
// the newer secret confirms it, and the refusal changes nothing.
func TestConfirmingAReplacedTOTPSetup(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, token := s.signedUp()
		first, firstSetup := s.startTOTP(token)
		second, secondSetup := s.startTOTP(token) // the other tab: first is replaced

		now := s.Clock.Now()
		neither := "000000"
		for neither == otpCode(t, first, now) || neither == otpCode(t, second, now) {
			neither = "1" + neither[1:]
		}
		if b := wantProblem(t, s.confirmTOTPSetup(token, neither, firstSetup), http.StatusBadRequest, ""); b["code"] != "invalid_code" {
			t.Errorf("a code of neither secret: code %v, want invalid_code", b["code"])
		}
		b := wantProblem(t, s.confirmTOTPSetup(token, otpCode(t, first, now), firstSetup), http.StatusConflict, "")
		if b["code"] != "totp_setup_replaced" {
			t.Errorf("the replaced secret's code: code %v, want totp_setup_replaced", b["code"])
		}
		for _, setup := range []string{secondSetup, "", "bm90IGEgaGFuZGxl"} {
			if b := wantProblem(t, s.confirmTOTPSetup(token, otpCode(t, first, now), setup), http.StatusBadRequest, ""); b["code"] != "invalid_code" {
				t.Errorf("the replaced secret's code with setup %q: code %v, want invalid_code", setup, b["code"])
			}
		}
		if st := s.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: token}).object(t); st["totp"] != "pending" {
			t.Errorf("after the refusals: %v, want totp still pending", st)
		}
		s.Clock.Advance(30 * time.Second)
		if res := s.confirmTOTPSetup(token, otpCode(t, second, s.Clock.Now()), firstSetup); res.Status != http.StatusOK {
			t.Errorf("the newer secret's code, from the first tab: got %v, want 200", res)
		}
	})
}
