package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// The administration's changes of who controls an account (email, role,
// second factors, deletion) need the administrator's recent sign-in, as
// the same changes of one's own account do; service accounts make none of
// them to an administrator and change no role (docs/security.md).

// stale is past the re-authentication window of a password login.
const stale = user.DefaultReauthWindow + time.Minute

// sensitiveAdminCalls are the admin API's changes of who controls the
// account id: its email, its role, its second factors, its existence.
func sensitiveAdminCalls(id, role string) map[string]req {
	path := "/api/v1/admin/users/" + id
	return map[string]req{
		"PATCH email": {method: "PATCH", path: path, body: `{"email":"taken.over@evil.example"}`},
		"PATCH role":  {method: "PATCH", path: path, body: `{"role":"` + role + `"}`},
		"DELETE mfa":  {method: "DELETE", path: path + "/mfa"},
		"DELETE user": {method: "DELETE", path: path},
	}
}

// A stolen administrator's access token whose login is older than the
// re-authentication window changes neither its own account's nor another
// administrator's email or role, removes no second factor and deletes no
// account (403 reauthentication_required), as PUT and DELETE /users/me
// refuse it; it may still rename and deactivate (the incident response).
// Once the session proves the password again (POST /reauthenticate), the
// same calls go through.
func TestAdminRoutesNeedARecentSignInForSensitiveChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		_, otherID, otherToken := f.newAdmin()
		_, plainID := f.signUp()
		f.enrolTOTP(otherToken)
		stolen := f.adminToken
		f.Clock.Advance(stale)
		if body := wantProblem(t, f.updateMe(stolen, `{"email":"taken.over@evil.example"}`), http.StatusForbidden, ""); body["code"] != "reauthentication_required" {
			t.Fatalf("control: PUT /users/me by an old session: %v", body)
		}
		for _, target := range []string{f.adminID, otherID, plainID.String()} {
			before, err := f.byID(target)
			if err != nil {
				t.Fatal(err)
			}
			flip := "admin"
			if before.IsAdmin() {
				flip = "user"
			}
			for name, r := range sensitiveAdminCalls(target, flip) {
				r.token = stolen
				wantCode(t, f.do(r), http.StatusForbidden, "reauthentication_required", "")
				if after, err := f.byID(target); err != nil || after.Email != before.Email || after.Role != before.Role {
					t.Errorf("%s of %s by an old session changed it: %+v, %v", name, target, after, err)
				}
			}
		}
		if res := f.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: otherToken}); res.Status != http.StatusOK || !strings.Contains(string(res.Body), "totp") {
			t.Errorf("the other administrator's factors after the refusals: %v", res)
		}
		for _, r := range []req{
			{method: "PATCH", path: "/api/v1/admin/users/" + otherID, body: `{"full_name":"Renamed"}`},
			{method: "POST", path: "/api/v1/admin/users/" + plainID.String() + "/deactivate"},
			{method: "POST", path: "/api/v1/admin/users/" + plainID.String() + "/reactivate"},
		} {
			r.token = stolen
			if res := f.do(r); res.Status != http.StatusOK {
				t.Errorf("%s %s by an old session: %v, want 200 (no change of who controls it)", r.method, r.path, res)
			}
		}
		if res := f.do(req{method: "POST", path: "/api/v1/reauthenticate", token: stolen, body: jsonBody(map[string]string{"password": f.admin.Password})}); res.Status != http.StatusNoContent {
			t.Fatalf("reauthenticate: %v", res)
		}
		calls := sensitiveAdminCalls(otherID, "user")
		for _, name := range []string{"DELETE mfa", "PATCH email", "PATCH role", "DELETE user"} {
			r := calls[name]
			r.token = stolen
			if res := f.do(r); res.Status >= 300 {
				t.Errorf("%s of another administrator after reauthenticating: %v, want success", name, res)
			}
		}
	})
}

// A service account given users:write (provisioning) changes no role:
// it cannot make an account it controls an administrator, reaching what
// its scope does not. Nor does it move, strip of its second factors or
// delete an administrator's account. Its other writes keep working.
func TestUsersWriteServiceAccountCannotMakeAdministrators(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		sa := f.createClient(f.adminToken, `{"name":"Provisioning","confidential":true,"grant_types":["client_credentials"],"scopes":["users:write"]}`)
		tok := f.serviceToken(sa.ClientID, "users:write")
		mine, mineID := f.signUp()
		for _, r := range []req{
			{method: "PATCH", path: "/api/v1/admin/users/" + mineID.String(), body: `{"role":"admin"}`},
			{method: "PATCH", path: "/api/v1/admin/users/" + f.adminID, body: `{"role":"user"}`},
			{method: "PATCH", path: "/api/v1/admin/users/" + f.adminID, body: `{"email":"taken.over@evil.example"}`},
			{method: "DELETE", path: "/api/v1/admin/users/" + f.adminID},
		} {
			r.token = tok
			body := wantProblem(t, f.do(r), http.StatusForbidden, user.ErrServiceAccountLimit.Error())
			if body["code"] != "forbidden" {
				t.Errorf("%s %s %s by a service account: code %v, want forbidden", r.method, r.path, r.body, body["code"])
			}
		}
		mineTok := f.token(mine.Username, mine.Password)
		wantCode(t, f.do(req{method: "GET", path: "/api/v1/admin/clients", token: mineTok}), http.StatusForbidden, "forbidden", "")
		if admin, err := f.byID(f.adminID); err != nil || !admin.IsAdmin() || admin.Email != f.admin.Email {
			t.Errorf("the administrator after the refusals: %+v, %v", admin, err)
		}
		for _, r := range []req{
			{method: "PATCH", path: "/api/v1/admin/users/" + mineID.String(), body: `{"email":"moved@example.com","full_name":"Mine"}`},
			{method: "PATCH", path: "/api/v1/admin/users/" + f.adminID, body: `{"full_name":"Root"}`},
			{method: "POST", path: "/api/v1/admin/users/" + mineID.String() + "/deactivate"},
			{method: "DELETE", path: "/api/v1/admin/users/" + mineID.String()},
		} {
			r.token = tok
			if res := f.do(r); res.Status >= 300 {
				t.Errorf("%s %s by a users:write service account: %v, want success", r.method, r.path, res)
			}
		}
	})
}

// Reactivating an administrator's account makes an active administrator
// again, as a promotion does: it needs the recent sign-in a role change
// needs, and no service account may do it (found by a review: a stolen
// administrator's token past the window, or a users:write service
// account, brought back a deactivated administrator whose password its
// holder knew, and through it every change the window guards).
// Reactivating anyone else stays as quick as deactivating.
func TestReactivatingAnAdministratorNeedsARecentSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		_, otherID, _ := f.newAdmin()
		reactivate := req{method: "POST", path: "/api/v1/admin/users/" + otherID + "/reactivate", token: f.adminToken}
		if res := f.do(req{method: "POST", path: "/api/v1/admin/users/" + otherID + "/deactivate", token: f.adminToken}); res.Status != http.StatusOK {
			t.Fatalf("deactivate the other administrator: %v", res)
		}
		sa := f.createClient(f.adminToken, `{"name":"Provisioning","confidential":true,"grant_types":["client_credentials"],"scopes":["users:write"]}`)
		byService := reactivate
		byService.token = f.serviceToken(sa.ClientID, "users:write")
		wantProblem(t, f.do(byService), http.StatusForbidden, user.ErrServiceAccountLimit.Error())
		f.Clock.Advance(stale)
		wantCode(t, f.do(reactivate), http.StatusForbidden, "reauthentication_required", "")
		if other, err := f.byID(otherID); err != nil || other.IsActive {
			t.Fatalf("the other administrator after the refusals: %+v, %v", other, err)
		}
		if res := f.do(req{method: "POST", path: "/api/v1/reauthenticate", token: f.adminToken, body: jsonBody(map[string]string{"password": f.admin.Password})}); res.Status != http.StatusNoContent {
			t.Fatalf("reauthenticate: %v", res)
		}
		if res := f.do(reactivate); res.Status != http.StatusOK {
			t.Errorf("reactivate after reauthenticating: %v, want 200", res)
		}
	})
}
