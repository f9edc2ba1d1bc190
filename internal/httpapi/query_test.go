package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// TestListRoutesRefuseUnknownParameters: a mistyped filter is a 422
// naming it, not a listing of everything.
func TestListRoutesRefuseUnknownParameters(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, id := s.signUp()
		s.setRole(id, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		for _, tt := range []struct{ path, detail string }{
			{"/api/v1/admin/users?rol=admin", "query.rol: unknown parameter"},
			{"/api/v1/admin/users?role=admin&is_activ=false&emailprefix=a", "query.emailprefix: unknown parameter; query.is_activ: unknown parameter"},
			{"/api/v1/admin/audit?kinds=login.failed", "query.kinds: unknown parameter"},
			{"/api/v1/admin/audit?Since=2026-01-01T00:00:00Z", "query.Since: unknown parameter"},
			{"/api/v1/users/me/audit?limit=5&page=2", "query.page: unknown parameter"},
		} {
			res := s.do(req{method: "GET", path: tt.path, token: tok})
			body := wantProblem(t, res, http.StatusUnprocessableEntity, tt.detail)
			wantLocated(t, body, "query."+strings.SplitN(strings.TrimPrefix(tt.detail, "query."), ":", 2)[0])
		}
		// The known ones still work, and their errors are located in the query.
		for _, tt := range []struct{ path, location string }{
			{"/api/v1/admin/users?role=admin&limit=5", ""},
			{"/api/v1/admin/users?cursor=nope", "query.cursor"},
			{"/api/v1/admin/users?email_prefix=%01", "query.email_prefix"},
			{"/api/v1/admin/users?limit=0", "query.limit"},
			{"/api/v1/admin/audit?cursor=nope", "query.cursor"},
			{"/api/v1/admin/audit?kind=nope", "query.kind"},
			{"/api/v1/admin/audit?since=yesterday", "query.since"},
		} {
			res := s.do(req{method: "GET", path: tt.path, token: tok})
			if tt.location == "" {
				if res.Status != http.StatusOK {
					t.Errorf("GET %s: %v, want 200", tt.path, res)
				}
				continue
			}
			wantLocated(t, wantProblem(t, res, http.StatusUnprocessableEntity, ""), tt.location)
		}
	})
}

// TestDateFiltersTakeAnyRFC3339DateTime: RFC 3339 allows "t" and "z" in
// lower case (section 5.6), and offsets; each means the same instant.
func TestDateFiltersTakeAnyRFC3339DateTime(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, id := s.signUp()
		s.setRole(id, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		now := s.Clock.Now().UTC()
		before, after := now.Add(-time.Hour), now.Add(time.Hour)
		for _, f := range []func(time.Time) string{
			func(t time.Time) string { return t.Format(time.RFC3339) },
			func(t time.Time) string { return strings.ToLower(t.Format(time.RFC3339)) },
			func(t time.Time) string { return strings.Replace(t.Format(time.RFC3339Nano), "T", "t", 1) },
			func(t time.Time) string {
				return strings.ReplaceAll(t.In(time.FixedZone("", 2*3600)).Format(time.RFC3339), "+", "%2B")
			},
		} {
			for _, tt := range []struct {
				path string
				n    int // items wanted
			}{
				{"/api/v1/admin/users?created_after=" + f(before) + "&created_before=" + f(after), 1},
				{"/api/v1/admin/users?created_after=" + f(after), 0},
				{"/api/v1/admin/audit?since=" + f(before) + "&until=" + f(after), 3},
				{"/api/v1/admin/audit?since=" + f(after), 0},
			} {
				res := s.do(req{method: "GET", path: tt.path, token: tok})
				if res.Status != http.StatusOK {
					t.Errorf("GET %s: %v, want 200", tt.path, res)
					continue
				}
				if items, _ := res.object(t)["items"].([]any); len(items) != tt.n {
					t.Errorf("GET %s: %d items, want %d", tt.path, len(items), tt.n)
				}
			}
		}
	})
}

// TestAdminPatchRefusesNull: the schema of the update allows no null; a
// null is refused rather than silently kept.
func TestAdminPatchRefusesNull(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		admin, id := s.signUp()
		s.setRole(id, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		_, target := s.signUp()
		path := "/api/v1/admin/users/" + target.String()
		for _, field := range []string{"full_name", "email", "is_active", "role"} {
			res := s.do(req{method: "PATCH", path: path, token: tok, body: `{"` + field + `": null}`})
			wantLocated(t, wantProblem(t, res, http.StatusUnprocessableEntity, ""), "body."+field)
		}
		res := s.do(req{method: "PATCH", path: path, token: tok, body: `{"full_name":"Ada","role":null}`})
		wantProblem(t, res, http.StatusUnprocessableEntity, "")
		if got := s.do(req{method: "GET", path: path, token: tok}).object(t)["full_name"]; got != nil {
			t.Errorf("a refused update changed full_name to %v", got)
		}
		if res := s.do(req{method: "PATCH", path: path, token: tok, body: `{"full_name":"Ada"}`}); res.Status != http.StatusOK {
			t.Errorf("PATCH without nulls: %v, want 200", res)
		}
	})
}
