package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/user"
)

// A session opened with the password alone before the account had a
// second factor (a thief who had the password, a forgotten device) must
// not outlive the owner turning one on: it never proved the factor, and
// with the password it could re-authenticate, regenerate the recovery
// codes and sign in past the factor with one of them, or remove it.
func TestTurningOnASecondFactorEndsThePasswordOnlySessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, owner := s.signedUp()
		thief := s.loginAs(a.Username, a.Password).object(t)
		thiefAccess, thiefRefresh := thief["access_token"].(string), thief["refresh_token"].(string)

		s.Clock.Advance(time.Minute)
		s.enrolTOTP(owner)

		// The thief's session proves the password again and asks for
		// recovery codes of its own: a way past the owner's factor.
		s.do(req{method: "POST", path: "/api/v1/reauthenticate", token: thiefAccess, body: `{"password":"` + a.Password + `"}`})
		if res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/recovery-codes", token: thiefAccess}); res.Status == http.StatusOK {
			code := res.object(t)["recovery_codes"].([]any)[0].(string)
			login := s.secondStep("mfa-recovery-code", s.mfaToken(a.Username, a.Password), "recovery_code", code)
			t.Fatalf("a password-only session from before the factor regenerated the recovery codes (then signed in with one: %d)", login.Status)
		}
		if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: thiefAccess}); res.Status != http.StatusUnauthorized {
			t.Errorf("the older password-only session's access token: got %v, want 401", res)
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {thiefRefresh}}.Encode()
		if res := s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType}); res.Status == http.StatusOK {
			t.Errorf("the older password-only session refreshed: got %v", res)
		}
		// The session that turned the factor on is its owner's, and stays.
		if res := s.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: owner}); res.Status != http.StatusOK {
			t.Errorf("the session that turned the factor on: got %v, want 200", res)
		} else if st := res.object(t); st["totp"] != user.TOTPEnabled || st["recovery_codes_left"] != float64(10) {
			t.Errorf("status: %v, want enabled with 10 codes", st)
		}
	})
}

// The same when the first factor is a passkey: the older password-only
// session, password in hand, would remove it (or add its own).
func TestFirstPasskeyEndsThePasswordOnlySessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, owner := s.signedUp()
		thief := s.token(a.Username, a.Password)

		s.Clock.Advance(time.Minute)
		id := s.addPasskey(owner, passkeytest.NewAuthenticator(passkeyOrigin), "")["id"].(string)

		res := s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: thief, body: `{"current_password":"` + a.Password + `"}`})
		if res.Status == http.StatusNoContent {
			t.Fatalf("a password-only session from before the passkey removed it")
		}
		if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: thief}); res.Status != http.StatusUnauthorized {
			t.Errorf("the older password-only session's access token: got %v, want 401", res)
		}
		if res := s.do(req{method: "GET", path: "/api/v1/users/me/passkeys", token: owner}); res.Status != http.StatusOK {
			t.Errorf("the session that added the passkey: got %v, want 200", res)
		}
	})
}

// A new set of recovery codes mails the owner's trusted address: it
// replaces the set the owner wrote down (without a word, their way back in
// once the phone is lost was gone), and whoever made it, a thief of a
// fresh session among others, holds a way past the authenticator app.
func TestNewRecoveryCodesAreMailedToTheOwner(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		s.enrolTOTP(token)
		s.nextMail(string(user.MailTOTPEnabled), a.Email)
		if res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/recovery-codes", token: token}); res.Status != http.StatusOK {
			t.Fatalf("regenerate: got %v, want 200", res)
		}
		if m := s.nextMail(string(user.MailRecoveryCodesGenerated), a.Email); m.Token != "" {
			t.Error("the notice of new recovery codes carries a token")
		}
	})
}
