package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// adminServer is a server with an administrator signed in, made through
// the store's Users port as an operator would.
type adminServer struct {
	*server
	admin      account
	adminID    string
	adminToken string
}

func newAdminServer(t *testing.T, kind string, opts ...apptest.Option) *adminServer {
	t.Helper()
	s := &adminServer{server: newServer(t, kind, opts...)}
	s.admin, s.adminID, s.adminToken = s.newAdmin()
	return s
}

// newAdmin registers another administrator and signs them in.
func (s *adminServer) newAdmin() (account, string, string) {
	s.t.Helper()
	a, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	return a, id.String(), s.token(a.Username, a.Password)
}

// byID reads the user id from the store.
func (s *server) byID(id string) (user.User, error) {
	return s.Stores.Users.ByID(s.t.Context(), uuid.MustParse(id))
}

// TestAdminAuthorizationMatrix calls every admin route as every kind of
// caller: only an active administrator, as the store says now, gets
// through.
func TestAdminAuthorizationMatrix(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		_, userToken := f.signedUp()
		_, demotedID, demotedToken := f.newAdmin()
		f.setRole(uuid.MustParse(demotedID), user.RoleUser)
		if role := claims(t, demotedToken)["role"]; role != "admin" {
			t.Fatalf("the demoted admin's old token says role %v, want admin (the test needs a token claiming admin)", role)
		}
		_, deactivatedID, deactivatedToken := f.newAdmin()
		if res := f.do(req{method: "POST", path: "/api/v1/admin/users/" + deactivatedID + "/deactivate", token: f.adminToken}); res.Status != http.StatusOK {
			t.Fatalf("deactivate an admin: %v", res)
		}
		routes := []struct {
			method, path, body string
			success            int
		}{
			{"GET", "/api/v1/admin/users", "", http.StatusOK},
			{"GET", "/api/v1/admin/users/%s", "", http.StatusOK},
			{"PATCH", "/api/v1/admin/users/%s", `{"full_name": "Changed"}`, http.StatusOK},
			{"POST", "/api/v1/admin/users/%s/deactivate", "", http.StatusOK},
			{"POST", "/api/v1/admin/users/%s/reactivate", "", http.StatusOK},
			{"DELETE", "/api/v1/admin/users/%s", "", http.StatusNoContent},
		}
		callers := []struct {
			name   string
			token  string
			status int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"invalid token", "not-a-token", http.StatusUnauthorized},
			{"user", userToken, http.StatusForbidden},
			{"demoted admin", demotedToken, http.StatusForbidden},
			{"deactivated admin", deactivatedToken, http.StatusUnauthorized},
			{"admin", f.adminToken, 0}, // the route's success
		}
		for _, r := range routes {
			for _, c := range callers {
				target := f.register(newAccount())["id"].(string)
				path := r.path
				if strings.Contains(path, "%s") {
					path = fmt.Sprintf(path, target)
				}
				res := f.do(req{method: r.method, path: path, body: r.body, token: c.token})
				want := c.status
				if want == 0 {
					if res.Status != r.success {
						t.Errorf("%s %s as %s: got %v, want %d", r.method, r.path, c.name, res, r.success)
					}
					continue
				}
				wantProblem(t, res, want, "")
				if after, err := f.byID(target); err != nil || after.FullName != "" || !after.IsActive {
					t.Errorf("%s %s as %s changed the user: %+v, %v", r.method, r.path, c.name, after, err)
				}
			}
		}
	})
}

func TestLoginTokenCarriesTheRole(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		if role := claims(t, f.adminToken)["role"]; role != "admin" {
			t.Errorf("an admin's access token: role %v, want admin", role)
		}
		_, userToken := f.signedUp()
		if role := claims(t, userToken)["role"]; role != "user" {
			t.Errorf("a user's access token: role %v, want user", role)
		}
	})
}

// page is a decoded listing.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func (s *adminServer) list(query url.Values) page {
	s.t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/admin/users?" + query.Encode(), token: s.adminToken})
	if res.Status != http.StatusOK {
		s.t.Fatalf("GET /admin/users?%s: got %v, want 200", query.Encode(), res)
	}
	var p page
	if err := json.Unmarshal(res.Body, &p); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// TestAdminListUsers walks the listing over HTTP, page by page, while users
// are added and deleted between pages, and checks the filters.
func TestAdminListUsers(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		present := map[string]bool{f.adminID: true}
		var deletable []string
		for range 7 {
			id := f.register(newAccount())["id"].(string)
			present[id] = true
			deletable = append(deletable, id)
		}
		seen := map[string]int{}
		var order []string
		q := url.Values{"limit": {"3"}}
		for pages := 0; ; pages++ {
			p := f.list(q)
			for _, it := range p.Items {
				seen[it["id"].(string)]++
				order = append(order, it["id"].(string))
				if _, ok := it["password"]; ok {
					t.Errorf("a listed user shows a password field")
				}
			}
			if p.NextCursor == nil {
				break
			}
			if pages > 10 {
				t.Fatal("the walk does not end")
			}
			q.Set("cursor", *p.NextCursor)
			f.register(newAccount())
			gone := deletable[len(deletable)-1]
			deletable = deletable[:len(deletable)-1]
			delete(present, gone)
			if res := f.do(req{method: "DELETE", path: "/api/v1/admin/users/" + gone, token: f.adminToken}); res.Status != http.StatusNoContent {
				t.Fatalf("delete: %v", res)
			}
		}
		for id := range present {
			if seen[id] != 1 {
				t.Errorf("user %s, present throughout, listed %d times, want once", id, seen[id])
			}
		}
		var last *user.User
		for _, id := range order {
			u, err := f.byID(id)
			if err != nil {
				continue // deleted during the walk
			}
			if last != nil && !last.Key().Less(u.Key()) {
				t.Errorf("listing out of (created_at, id) order: %s then %s", last.ID, u.ID)
			}
			last = &u
		}

		other := newAccount()
		other.Email, other.Username = "Zed_Prefix@example.com", "zed_prefix"
		zid := f.register(other)["id"].(string)
		if res := f.do(req{method: "PATCH", path: "/api/v1/admin/users/" + zid, token: f.adminToken,
			body: `{"full_name": "Zebulon Quixotic Dee"}`}); res.Status != http.StatusOK {
			t.Fatalf("set the full name: %v", res)
		}
		for _, tt := range []struct {
			query url.Values
			want  []string
		}{
			{url.Values{"email_prefix": {"zed_"}}, []string{zid}},
			{url.Values{"email_prefix": {"zed%"}}, nil},
			{url.Values{"search": {"XOTIC"}}, []string{zid}}, // the middle of the full name
			{url.Values{"search": {"d_pre"}}, []string{zid}}, // the middle of the username, '_' literal
			{url.Values{"search": {"ze"}}, []string{zid}},    // short: the start of a field
			{url.Values{"search": {"ix"}}, nil},              // short: not the middle
			{url.Values{"search": {"d%pre"}}, nil},           // '%' literal
			{url.Values{"username_prefix": {"ZED"}}, []string{zid}},
			{url.Values{"role": {"admin"}}, []string{f.adminID}},
			{url.Values{"role": {"admin"}, "is_active": {"false"}}, nil},
			{url.Values{"is_active": {"true"}, "username_prefix": {"zed"}}, []string{zid}},
		} {
			var got []string
			for _, it := range f.list(tt.query).Items {
				got = append(got, it["id"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("?%s: got %v, want %v", tt.query.Encode(), got, tt.want)
			}
		}
		z, _ := f.byID(zid)
		created := z.CreatedAt.UTC()
		if got := f.list(url.Values{"created_before": {created.Format("2006-01-02T15:04:05.999999999Z07:00")}, "username_prefix": {"zed"}}).Items; len(got) != 0 {
			t.Errorf("created_before its own creation: got %d users, want none", len(got))
		}
		if got := f.list(url.Values{"created_after": {created.Add(-1e6).Format("2006-01-02T15:04:05.999999999Z07:00")}, "username_prefix": {"zed"}}).Items; len(got) != 1 {
			t.Errorf("created_after just before its creation: got %d users, want 1", len(got))
		}
		// Every refusal names the query parameter (query.<name>), never a
		// body field.
		for _, bad := range []string{"limit=0", "limit=101", "cursor=not-a-cursor", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("short")),
			"is_active=maybe", "role=root", "created_after=yesterday"} {
			res := f.do(req{method: "GET", path: "/api/v1/admin/users?" + bad, token: f.adminToken})
			body := wantProblem(t, res, http.StatusUnprocessableEntity, "")
			name, _, _ := strings.Cut(bad, "=")
			wantLocated(t, body, "query."+name)
			if d, _ := body["detail"].(string); !strings.Contains(d, "query."+name) || strings.Contains(d, "body.") {
				t.Errorf("?%s: detail %q, want it to name query.%s", bad, d, name)
			}
		}
	})
}

func TestAdminGetAndUpdateUser(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		a := newAccount()
		id := f.register(a)["id"].(string)
		path := "/api/v1/admin/users/" + id
		got := f.do(req{method: "GET", path: path, token: f.adminToken})
		if got.Status != http.StatusOK {
			t.Fatalf("GET: %v", got)
		}
		body := got.object(t)
		if body["username"] != a.Username || body["role"] != "user" || body["is_active"] != true || body["email_verified"] != false {
			t.Errorf("GET: %s, want the user with role, is_active and email_verified", got.Body)
		}
		res := f.do(req{method: "PATCH", path: path, token: f.adminToken,
			body: `{"full_name": "Ada L", "email": "ada.new@example.com", "role": "admin"}`})
		if res.Status != http.StatusOK {
			t.Fatalf("PATCH: %v", res)
		}
		if b := res.object(t); b["full_name"] != "Ada L" || b["email"] != "ada.new@example.com" || b["role"] != "admin" || b["is_active"] != true {
			t.Errorf("PATCH: %s, want the changes", res.Body)
		}
		if role := claims(t, f.token("ada.new@example.com", a.Password))["role"]; role != "admin" {
			t.Errorf("the promoted user's new token: role %v, want admin", role)
		}
		res = f.do(req{method: "PATCH", path: path, token: f.adminToken, body: `{"full_name": ""}`})
		if res.Status != http.StatusOK || res.object(t)["full_name"] != nil {
			t.Errorf(`PATCH {"full_name": ""}: %v, want full_name null`, res)
		}
		if res := f.do(req{method: "PATCH", path: path, token: f.adminToken, body: `{}`}); res.Status != http.StatusOK {
			t.Errorf("PATCH {}: %v, want 200", res)
		}
		for _, tt := range []struct {
			body   string
			status int
		}{
			{`{"is_admin": true}`, http.StatusUnprocessableEntity},
			{`{"role": "root"}`, http.StatusUnprocessableEntity},
			{`{"email": "Ada <ada@example.com>"}`, http.StatusUnprocessableEntity},
			{`{"full_name": "a\u0000b"}`, http.StatusUnprocessableEntity},
			{`{"email": "` + f.admin.Email + `"}`, http.StatusBadRequest},
			{`{"password": "new password 123"}`, http.StatusUnprocessableEntity},
		} {
			wantProblem(t, f.do(req{method: "PATCH", path: path, token: f.adminToken, body: tt.body}), tt.status, "")
		}
		missing := uuid.Must(uuid.NewV7()).String()
		for _, r := range []req{
			{method: "GET", path: "/api/v1/admin/users/" + missing},
			{method: "PATCH", path: "/api/v1/admin/users/" + missing, body: `{"full_name": "x"}`},
			{method: "POST", path: "/api/v1/admin/users/" + missing + "/deactivate"},
			{method: "POST", path: "/api/v1/admin/users/" + missing + "/reactivate"},
			{method: "DELETE", path: "/api/v1/admin/users/" + missing},
		} {
			r.token = f.adminToken
			body := wantProblem(t, f.do(r), http.StatusNotFound, "no user with this id")
			if body["code"] != "user_not_found" {
				t.Errorf("%s %s: code %v, want user_not_found", r.method, r.path, body["code"])
			}
		}
		wantProblem(t, f.do(req{method: "GET", path: "/api/v1/admin/users/not-a-uuid", token: f.adminToken}), http.StatusUnprocessableEntity, "")
	})
}

// TestAdminDeactivateEndsSessions: deactivation stops the user's access and
// refresh tokens and logins; reactivation lets them log in again.
func TestAdminDeactivateEndsSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		a := newAccount()
		id := f.register(a)["id"].(string)
		login := f.loginAs(a.Username, a.Password).object(t)
		access, refresh := login["access_token"].(string), login["refresh_token"].(string)
		res := f.do(req{method: "POST", path: "/api/v1/admin/users/" + id + "/deactivate", token: f.adminToken})
		if res.Status != http.StatusOK || res.object(t)["is_active"] != false {
			t.Fatalf("deactivate: %v, want 200 and is_active false", res)
		}
		wantProblem(t, f.do(req{method: "GET", path: "/api/v1/users/me", token: access}), http.StatusUnauthorized, "")
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()
		wantProblem(t, f.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded"}),
			http.StatusBadRequest, user.ErrInvalidGrant.Error())
		wantProblem(t, f.loginAs(a.Username, a.Password), http.StatusUnauthorized, "")
		sessions, err := f.Stores.Sessions.Active(t.Context(), uuid.MustParse(id), f.Clock.Now(), user.SessionPage{})
		if err != nil || len(sessions) != 0 {
			t.Errorf("active sessions after deactivation: %d, %v; want none", len(sessions), err)
		}
		if res := f.do(req{method: "POST", path: "/api/v1/admin/users/" + id + "/deactivate", token: f.adminToken}); res.Status != http.StatusOK {
			t.Errorf("deactivate again: %v, want 200", res)
		}
		res = f.do(req{method: "POST", path: "/api/v1/admin/users/" + id + "/reactivate", token: f.adminToken})
		if res.Status != http.StatusOK || res.object(t)["is_active"] != true {
			t.Fatalf("reactivate: %v, want 200 and is_active true", res)
		}
		fresh := f.token(a.Username, a.Password)
		if res := f.do(req{method: "GET", path: "/api/v1/users/me", token: fresh}); res.Status != http.StatusOK {
			t.Errorf("after reactivation, GET /users/me: %v, want 200", res)
		}
		// PATCH is_active=false ends sessions too.
		res = f.do(req{method: "PATCH", path: "/api/v1/admin/users/" + id, token: f.adminToken, body: `{"is_active": false}`})
		if res.Status != http.StatusOK {
			t.Fatalf("PATCH is_active false: %v", res)
		}
		wantProblem(t, f.do(req{method: "GET", path: "/api/v1/users/me", token: fresh}), http.StatusUnauthorized, "")
	})
}

func TestAdminDeleteUser(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		a, id := f.signUp()
		token := f.token(a.Username, a.Password)
		path := "/api/v1/admin/users/" + id.String()
		if res := f.do(req{method: "DELETE", path: path, token: f.adminToken}); res.Status != http.StatusNoContent {
			t.Fatalf("DELETE: %v, want 204", res)
		}
		wantProblem(t, f.do(req{method: "GET", path: path, token: f.adminToken}), http.StatusNotFound, "")
		wantProblem(t, f.do(req{method: "GET", path: "/api/v1/users/me", token: token}), http.StatusUnauthorized, "")
		wantProblem(t, f.loginAs(a.Username, a.Password), http.StatusUnauthorized, "")
	})
}

// TestLastAdminRules: no request may leave the service without an active
// administrator, the acting one included; with another administrator the
// same requests succeed.
func TestLastAdminRules(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		self := "/api/v1/admin/users/" + f.adminID
		for _, r := range []req{
			{method: "PATCH", path: self, body: `{"role": "user"}`},
			{method: "PATCH", path: self, body: `{"is_active": false}`},
			{method: "POST", path: self + "/deactivate"},
			{method: "DELETE", path: self},
			{method: "DELETE", path: "/api/v1/users/me"},
		} {
			r.token = f.adminToken
			wantProblem(t, f.do(r), http.StatusConflict, user.ErrLastAdmin.Error())
		}
		if res := f.do(req{method: "GET", path: "/api/v1/users/me", token: f.adminToken}); res.Status != http.StatusOK || res.object(t)["role"] != "admin" {
			t.Fatalf("the last admin after refused requests: %v, want an active admin", res)
		}
		// Another administrator: now the first may step down.
		_, otherID, otherToken := f.newAdmin()
		res := f.do(req{method: "PATCH", path: self, body: `{"role": "user"}`, token: f.adminToken})
		if res.Status != http.StatusOK || res.object(t)["role"] != "user" {
			t.Fatalf("demote self beside another admin: %v, want 200 role user", res)
		}
		wantProblem(t, f.do(req{method: "GET", path: "/api/v1/admin/users", token: f.adminToken}), http.StatusForbidden, "")
		wantProblem(t, f.do(req{method: "DELETE", path: "/api/v1/admin/users/" + otherID, token: otherToken}), http.StatusConflict, user.ErrLastAdmin.Error())
	})
}

// TestConcurrentDemotionsKeepAnAdmin: two administrators demote each other
// at the same moment; exactly one succeeds.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		for round := range 4 {
			_, otherID, otherToken := f.newAdmin()
			// Even rounds: each demotes the other (the loser may also be
			// refused 403, demoted before its request is authorised).
			// Odd rounds: each steps down (the loser is always 409).
			calls := []req{
				{method: "PATCH", path: "/api/v1/admin/users/" + otherID, body: `{"role": "user"}`, token: f.adminToken},
				{method: "PATCH", path: "/api/v1/admin/users/" + f.adminID, body: `{"role": "user"}`, token: otherToken},
			}
			if round%2 == 1 {
				calls = []req{
					{method: "PATCH", path: "/api/v1/admin/users/" + f.adminID, body: `{"role": "user"}`, token: f.adminToken},
					{method: "POST", path: "/api/v1/admin/users/" + otherID + "/deactivate", token: otherToken},
				}
			}
			statuses := make([]int, len(calls))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, r := range calls {
				wg.Go(func() {
					<-start
					statuses[i] = f.doTB(t, r).Status
				})
			}
			close(start)
			wg.Wait()
			ok, conflict := 0, 0
			for _, s := range statuses {
				switch s {
				case http.StatusOK:
					ok++
				case http.StatusConflict:
					conflict++
				case http.StatusForbidden:
					if round%2 == 0 {
						conflict++
					}
				}
			}
			if ok != 1 || conflict != 1 {
				t.Fatalf("round %d: statuses %v, want one 200 and one refusal", round, statuses)
			}
			admin, on := user.RoleAdmin, true
			left, err := f.Stores.Users.List(t.Context(), user.ListQuery{Filter: user.Filter{Role: &admin, IsActive: &on}, Limit: 10})
			if err != nil || len(left) != 1 {
				t.Fatalf("round %d: %d active admins, %v; want 1", round, len(left), err)
			}
			if left[0].ID.String() != f.adminID { // the fixture's admin alone for the next round
				f.setRole(uuid.MustParse(f.adminID), user.RoleAdmin)
				if err := f.Stores.Users.Delete(t.Context(), left[0].ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
