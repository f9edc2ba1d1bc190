package systemtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/mail/mailtest"
)

// TestAccountMailEndToEnd runs the service with mail sent by SMTP to an
// in-process server: a registration's verification mail verifies the
// email, and a reset mail sets a new password and ends every session.
func TestAccountMailEndToEnd(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			env, smtp := smtpEnv(t)
			srv := start(t, append(db.environ(t), env...)...)
			api := srv.base + "/api/v1"
			const email = "bob@example.com"

			if got := call(t, "POST", api+"/register", "", "application/json",
				`{"email":"`+email+`","username":"bob","password":"correct horse"}`, nil); got != http.StatusCreated {
				t.Fatalf("register: status %d, want 201", got)
			}
			verifyToken := mailtest.Token(t, smtp.Wait(t, email))
			var verified struct {
				EmailVerified bool `json:"email_verified"`
			}
			if got := call(t, "POST", api+"/verify-email", "", "application/json", `{"token":"`+verifyToken+`"}`, &verified); got != http.StatusOK || !verified.EmailVerified {
				t.Fatalf("verify-email: status %d, verified %v; want 200, true", got, verified.EmailVerified)
			}

			var old struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
			}
			form := url.Values{"username": {"bob"}, "password": {"correct horse"}}.Encode()
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &old); got != http.StatusOK {
				t.Fatalf("token: status %d, want 200", got)
			}
			var accepted struct{ Detail string }
			if got := call(t, "POST", api+"/password-reset", "", "application/json", `{"email":"BOB@example.com"}`, &accepted); got != http.StatusAccepted {
				t.Fatalf("password-reset: status %d, want 202", got)
			}
			resetToken := mailtest.Token(t, smtp.Wait(t, email))
			if got := call(t, "POST", api+"/password-reset/confirm", "", "application/json",
				`{"token":"`+resetToken+`","new_password":"battery staple horse"}`, nil); got != http.StatusNoContent {
				t.Fatalf("password-reset/confirm: status %d, want 204", got)
			}
			if got := call(t, "GET", api+"/users/me", old.AccessToken, "", "", nil); got != http.StatusUnauthorized {
				t.Errorf("me with the access token of before the reset: status %d, want 401", got)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.RefreshToken}}.Encode()
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", refresh, nil); got != http.StatusBadRequest {
				t.Errorf("refresh with the refresh token of before the reset: status %d, want 400", got)
			}
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, nil); got != http.StatusUnauthorized {
				t.Errorf("token with the old password: status %d, want 401", got)
			}
			form = url.Values{"username": {"bob"}, "password": {"battery staple horse"}}.Encode()
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, nil); got != http.StatusOK {
				t.Errorf("token with the new password: status %d, want 200", got)
			}
			if got := call(t, "POST", api+"/password-reset/confirm", "", "application/json",
				`{"token":"`+resetToken+`","new_password":"another new password"}`, nil); got != http.StatusBadRequest {
				t.Errorf("the reset token again: status %d, want 400", got)
			}
			if err := srv.stop(t); err != nil {
				t.Fatalf("exit after SIGTERM: %v, want status 0", err)
			}
			for _, secret := range []string{verifyToken, resetToken, "battery staple horse"} {
				if strings.Contains(srv.logs(), secret) {
					t.Errorf("the logs contain a secret (%q)", secret)
				}
			}
		})
	}
}
