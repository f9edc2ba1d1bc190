package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// TestPasswordProofsOfASessionAreAudited: a session proves the password
// again with POST /reauthenticate, or inline with current_password in the
// sensitive change's own body; either way the audit log shows the same:
// a wrong password as a failed login (login.failed, wrong_password, with
// the session) and the right one as session.reauthenticated with the
// session. Before, the inline proof opened the window of sensitive
// changes unrecorded, and wrong passwords (a thief of the session
// guessing) were counted by the lockout but recorded on neither path.
func TestPasswordProofsOfASessionAreAudited(t *testing.T) {
	for _, tt := range []struct {
		name  string
		proof func(token, password string) (req, int) // the request and its status with the right password
	}{
		{"POST /reauthenticate", func(token, password string) (req, int) {
			return req{method: "POST", path: "/api/v1/reauthenticate", token: token, body: jsonBody(map[string]string{"password": password})}, http.StatusNoContent
		}},
		{"current_password with an email change", func(token, password string) (req, int) {
			body := jsonBody(map[string]string{"email": "moved." + newAccount().Email, "current_password": password})
			return req{method: "PUT", path: "/api/v1/users/me", token: token, body: body}, http.StatusOK
		}},
		{"current_password with a passkey registration", func(token, password string) (req, int) {
			body := jsonBody(map[string]string{"current_password": password})
			return req{method: "POST", path: "/api/v1/users/me/passkeys/register/options", token: token, body: body}, http.StatusOK
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, kind string) {
				s := newAuditServer(t, kind)
				a, _, token := s.registered()
				s.Clock.Advance(15 * time.Minute) // past the window of the login
				wrong, _ := tt.proof(token, "not the password")
				s.want(wrong, http.StatusBadRequest)
				right, status := tt.proof(token, a.Password)
				s.want(right, status)

				sid := sidOf(t, token).String()
				var failed, renewed int
				for _, e := range s.page("/api/v1/users/me/audit", token).Items {
					switch {
					case e.Kind == string(user.AuditLoginFailed) && e.Detail["reason"] == "wrong_password" && e.Detail["session_id"] == sid:
						failed++
					case e.Kind == string(user.AuditReauthenticated) && e.Detail["session_id"] == sid:
						renewed++
					}
				}
				if failed != 1 || renewed != 1 {
					t.Errorf("audit of the session's proofs: %d login.failed (wrong_password) and %d session.reauthenticated naming the session; want 1 and 1", failed, renewed)
				}
			})
		})
	}
}
