package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestUnavailableDatabaseIs503 checks every route that touches the
// database answers 503 JSON with Retry-After when the store reports
// ErrUnavailable, with no driver text in the body (it is logged instead),
// while /healthz stays 200 and /readyz says 503.
func TestUnavailableDatabaseIs503(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory)
	a, token := s.signedUp()
	s.Memory.SetFail(fmt.Errorf("get user: %w: %w", user.ErrUnavailable, fmt.Errorf("dial tcp 127.0.0.1:5432: connect: connection refused")))
	for _, r := range []req{
		{method: "POST", path: "/api/v1/register", body: newAccount().json()},
		{method: "POST", path: "/api/v1/token", body: "username=" + a.Username + "&password=x", contentType: "application/x-www-form-urlencoded"},
		{method: "GET", path: "/api/v1/users/me", token: token},
		{method: "PUT", path: "/api/v1/users/me", token: token, body: `{"full_name":"x"}`},
		{method: "PUT", path: "/api/v1/users/me/password", token: token, body: `{"current_password":"correct horse battery","new_password":"another long one"}`},
		{method: "DELETE", path: "/api/v1/users/me", token: token},
	} {
		res := s.do(r)
		body := wantProblem(t, res, http.StatusServiceUnavailable, user.ErrUnavailable.Error())
		if got := res.Header.Get("Retry-After"); got != "2" || body["code"] != "unavailable" {
			t.Errorf("%s %s: 503 with Retry-After %q, code %v; want 2, unavailable", r.method, r.path, got, body["code"])
		}
		if strings.Contains(string(res.Body), "dial") || strings.Contains(string(res.Body), "5432") {
			t.Errorf("%s %s: body leaks the cause: %s", r.method, r.path, res.Body)
		}
	}
	if res := s.do(req{method: "GET", path: "/healthz"}); res.Status != http.StatusOK {
		t.Errorf("healthz while the database is down: %v, want 200", res)
	}
	if res := s.do(req{method: "GET", path: "/readyz"}); res.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz while the database is down: %v, want 503", res)
	}
	if !strings.Contains(string(s.Logs.Bytes()), "connection refused") {
		t.Error("the cause of the 503 is not logged")
	}
	s.Memory.SetFail(nil)
	if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: token}); res.Status != http.StatusOK {
		t.Errorf("users/me once the database is back: %v, want 200", res)
	}
}
