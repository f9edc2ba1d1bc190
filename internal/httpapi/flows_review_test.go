package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

// The findings of the review of the sign-up, sign-in and recovery flows,
// each reproduced over HTTP on every store as an attacker ran it.

// TestDeactivationUsesUpResetLinks: a reset link mailed before an
// administrator deactivated an account (say, because it was being taken
// over) reset its password once the account was reactivated. Now
// deactivating uses up every pending reset link: refused while the
// account is inactive and after it is reactivated, whose owner keeps the
// password.
func TestDeactivationUsesUpResetLinks(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAdminServer(t, kind)
		a, id := s.signUp()
		s.drainMail()
		s.requestReset(a.Email, nil)
		link := s.nextMail(usertest.MailReset, a.Email)
		admin := func(action string) {
			t.Helper()
			path := "/api/v1/admin/users/" + id.String() + "/" + action
			if res := s.do(req{method: "POST", path: path, token: s.adminToken}); res.Status != http.StatusOK {
				t.Fatalf("%s: %v, want 200", action, res)
			}
		}
		admin("deactivate")
		wantProblem(t, s.confirmReset(link.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		admin("reactivate")
		wantProblem(t, s.confirmReset(link.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		wantProblem(t, s.loginAs(a.Username, "the attacker's password"), http.StatusUnauthorized, "")
		s.token(a.Username, a.Password)
	})
}
