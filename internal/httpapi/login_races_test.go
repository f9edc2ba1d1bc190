package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestALoginFinishingMeanwhileDoesNotOutliveTheChange: the owner of an
// account whose password a thief knows changes the password, or adds a
// first second factor, to shut the thief out; both end every other
// session. A password login of the thief's that had checked the password
// and looked for a second factor before the change, and opens its session
// after it, must not keep that session: the change did not see it to end
// it. The login is held after its lookup of the account's TOTP factor
// while the change is made: until the change is done or, as it must now,
// waits for the login's transaction, which holds the account. On
// PostgreSQL, where transactions overlap; on SQLite they never do, and
// the login's lookup is in its transaction.
func TestALoginFinishingMeanwhileDoesNotOutliveTheChange(t *testing.T) {
	changes := []struct {
		name string
		make func(s *server, a account, token string) error
	}{
		{"the password changed", func(s *server, a account, token string) error {
			body := jsonBody(map[string]string{"current_password": a.Password, "new_password": "a brand new passphrase"})
			if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: token, body: body}); res.Status != http.StatusNoContent {
				return fmt.Errorf("password change: got %v, want 204", res)
			}
			return nil
		}},
		{"a first factor added", func(s *server, _ account, token string) error {
			res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
			if res.Status != http.StatusCreated {
				return fmt.Errorf("enrol TOTP: got %v, want 201", res)
			}
			code := otpCode(s.t, res.object(s.t)["secret"].(string), s.Clock.Now())
			res = s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp/confirm", token: token, body: `{"code":"` + code + `"}`})
			if res.Status != http.StatusOK {
				return fmt.Errorf("confirm TOTP: got %v, want 200", res)
			}
			return nil
		}},
	}
	for _, change := range changes {
		t.Run(change.name, func(t *testing.T) {
			s, hooks, watch := newWatchedServer(t)
			a, token := s.signedUp()

			made := make(chan error, 1)
			var fired atomic.Bool
			meanwhile := func() {
				if !fired.CompareAndSwap(false, true) {
					return
				}
				go func() { made <- change.make(s, a, token) }()
				waitForLockWaitOr(t, watch, "the change", made)
			}
			hooks.totp.Store(&meanwhile)
			res := s.loginAs(a.Username, a.Password)
			hooks.totp.Store(nil)
			if !fired.Load() {
				t.Fatal("the login never looked up the account's TOTP factor: the test held it nowhere")
			}
			if err := <-made; err != nil {
				t.Fatal(err)
			}
			if res.Status != http.StatusOK {
				return // refused, or asked for the factor: nothing to outlive the change
			}
			obj := res.object(t)
			if me := s.do(req{method: "GET", path: "/api/v1/users/me", token: obj["access_token"].(string)}); me.Status != http.StatusUnauthorized {
				t.Errorf("the login's access token after the change: got %v, want 401", me)
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {obj["refresh_token"].(string)}}
			refreshed := s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
			wantOAuthError(t, refreshed, http.StatusBadRequest, "invalid_grant", "")
		})
	}
}
