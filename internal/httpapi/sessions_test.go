package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// grace is the reuse grace of the tests' servers.
const grace = 10 * time.Second

// sessionPolicy gives a server short lifetimes, which the tests reach by
// moving its clock: refresh tokens live an hour, sessions a day.
func sessionPolicy() apptest.Option {
	return apptest.Env("USERSVC_REFRESH_TOKEN_TTL", "1h", "USERSVC_SESSION_MAX_AGE", "24h",
		"USERSVC_REFRESH_REUSE_GRACE", grace.String())
}

func newSessionServer(t *testing.T, kind string, opts ...apptest.Option) *server {
	t.Helper()
	return newServer(t, kind, append([]apptest.Option{sessionPolicy()}, opts...)...)
}

// pair is what /token answers.
type pair struct{ access, refresh string }

func (s *server) login(a account, header http.Header) pair {
	s.t.Helper()
	form := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
	res := s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded", header: header})
	return s.wantPair(res)
}

func (s *server) wantPair(res response) pair {
	s.t.Helper()
	if res.Status != http.StatusOK {
		s.t.Fatalf("token: got %v, want 200", res)
	}
	body := res.object(s.t)
	p := pair{access: body["access_token"].(string), refresh: body["refresh_token"].(string)}
	if p.access == "" || len(p.refresh) < 43 || body["expires_in"] != float64(1800) || body["token_type"] != "bearer" {
		s.t.Fatalf("token body %s: want an access token, a refresh token of 256 bits or more, expires_in 1800", res.Body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		s.t.Errorf("token Cache-Control: got %q, want no-store", cc)
	}
	return p
}

func (s *server) refresh(token string) response {
	s.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
	return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded"})
}

// me answers GET /users/me's status for access.
func (s *server) me(access string) int {
	s.t.Helper()
	return s.do(req{method: "GET", path: "/api/v1/users/me", token: access}).Status
}

func (s *server) wantMe(access string, want int, what string) {
	s.t.Helper()
	if got := s.me(access); got != want {
		s.t.Errorf("GET /users/me with %s: got %d, want %d", what, got, want)
	}
}

const invalidGrant = "the refresh token is invalid, expired or revoked"

func (s *server) wantInvalidGrant(token, what string) {
	s.t.Helper()
	res := s.refresh(token)
	if res.Status != http.StatusBadRequest {
		s.t.Errorf("refresh with %s: got %v, want 400", what, res)
		return
	}
	wantProblem(s.t, res, http.StatusBadRequest, invalidGrant)
}

func TestRefreshRotates(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		first := srv.login(a, nil)
		srv.Clock.Advance(time.Minute)
		second := srv.wantPair(srv.refresh(first.refresh))
		if second.refresh == first.refresh {
			t.Errorf("refresh gave back the same refresh token")
		}
		srv.wantMe(second.access, http.StatusOK, "the refreshed access token")
		srv.wantMe(first.access, http.StatusOK, "the older access token of the same session")
		srv.Clock.Advance(time.Minute)
		third := srv.wantPair(srv.refresh(second.refresh))
		srv.wantMe(third.access, http.StatusOK, "the access token of a second refresh")
		// The explicit password grant works as the bare form does.
		form := url.Values{"grant_type": {"password"}, "username": {a.Username}, "password": {a.Password}}.Encode()
		srv.wantPair(srv.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded"}))
	})
}

func TestRefreshReuseRevokesSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		first := srv.login(a, nil)
		other := srv.login(a, nil) // another session, which must survive
		second := srv.wantPair(srv.refresh(first.refresh))
		srv.Clock.Advance(grace + time.Second)
		srv.wantInvalidGrant(first.refresh, "a rotated token after the grace (reuse)")
		srv.wantInvalidGrant(second.refresh, "the newest token of a session revoked by reuse")
		srv.wantMe(second.access, http.StatusUnauthorized, "an access token of a session revoked by reuse")
		srv.wantMe(first.access, http.StatusUnauthorized, "the first access token of a session revoked by reuse")
		srv.wantMe(other.access, http.StatusOK, "another session's access token")
		srv.wantPair(srv.refresh(other.refresh))
	})
}

func TestRefreshReuseWithinGrace(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		first := srv.login(a, nil)
		tab1 := srv.wantPair(srv.refresh(first.refresh))
		srv.Clock.Advance(grace - time.Second)
		tab2 := srv.wantPair(srv.refresh(first.refresh)) // the other tab, a moment later
		if tab2.refresh != tab1.refresh {
			t.Errorf("the grace refresh gave another successor: two chains of one session (issue 17, finding 4)")
		}
		srv.wantMe(tab1.access, http.StatusOK, "tab 1's access token")
		srv.wantMe(tab2.access, http.StatusOK, "tab 2's access token")
		srv.wantPair(srv.refresh(tab1.refresh))
		srv.wantPair(srv.refresh(tab2.refresh))
		var list []map[string]any
		if err := jsonDecode(srv.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: tab2.access}), &list); err != nil || len(list) != 1 {
			t.Errorf("sessions after concurrent refreshes: got %v (%v), want one session", list, err)
		}
	})
}

// TestConcurrentRefresh sends one refresh token many times at once: every
// request gets a pair (the grace covers them) and the session survives.
func TestConcurrentRefresh(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		first := srv.login(a, nil)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses[i] = srv.refresh(first.refresh).Status })
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Errorf("concurrent refresh #%d: got %d, want 200", i, s)
			}
		}
		srv.wantMe(first.access, http.StatusOK, "the session's access token")
	})
}

func TestRefreshRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		p := srv.login(a, nil)
		srv.wantInvalidGrant("not-a-token", "garbage")
		srv.wantInvalidGrant(strings.Repeat("A", 43), "an unknown token of the right length")
		srv.wantInvalidGrant(p.access, "an access token")
		const formType = "application/x-www-form-urlencoded"
		for _, tt := range []struct{ name, body, detail string }{
			{"missing refresh_token", "grant_type=refresh_token", "refresh_token: is required"},
			{"empty refresh_token", "grant_type=refresh_token&refresh_token=", "refresh_token: is required"},
			{"repeated", "grant_type=refresh_token&refresh_token=a&refresh_token=b", "refresh_token: must be given once"},
		} {
			res := srv.do(req{method: "POST", path: "/api/v1/token", body: tt.body, contentType: formType})
			wantProblem(t, res, http.StatusUnprocessableEntity, tt.detail)
		}
		// The refresh token expires.
		srv.Clock.Advance(time.Hour)
		srv.wantInvalidGrant(p.refresh, "an expired refresh token")
		// A session ends at its absolute lifetime however often it is refreshed.
		q := srv.login(a, nil)
		refreshes := 0
		for ; refreshes < 30; refreshes++ {
			srv.Clock.Advance(59 * time.Minute)
			res := srv.refresh(q.refresh)
			if res.Status != http.StatusOK {
				break
			}
			q = srv.wantPair(res)
		}
		if refreshes != 24 { // 24 × 59 min < 24 h ≤ 25 × 59 min
			t.Errorf("refreshing every 59 minutes kept the session %d times, want 24 (its 24 h lifetime)", refreshes)
		}
		srv.wantInvalidGrant(q.refresh, "the token of a session past its lifetime")
		srv.wantMe(q.access, http.StatusUnauthorized, "an access token of a session past its lifetime")
	})
}

func TestLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		laptop, phone := srv.login(a, nil), srv.login(a, nil)
		res := srv.do(req{method: "POST", path: "/api/v1/logout", token: laptop.access})
		if res.Status != http.StatusNoContent {
			t.Fatalf("logout: got %v, want 204", res)
		}
		srv.wantMe(laptop.access, http.StatusUnauthorized, "the logged-out session's access token")
		srv.wantInvalidGrant(laptop.refresh, "the logged-out session's refresh token")
		srv.wantMe(phone.access, http.StatusOK, "another session's access token")
		wantProblem(t, srv.do(req{method: "POST", path: "/api/v1/logout", token: laptop.access}), http.StatusUnauthorized, "")

		tablet := srv.login(a, nil)
		res = srv.do(req{method: "POST", path: "/api/v1/logout?scope=all", token: phone.access})
		if res.Status != http.StatusNoContent {
			t.Fatalf("logout?scope=all: got %v, want 204", res)
		}
		for name, p := range map[string]pair{"phone": phone, "tablet": tablet} {
			srv.wantMe(p.access, http.StatusUnauthorized, name+"'s access token after logout-all")
			srv.wantInvalidGrant(p.refresh, name+"'s refresh token after logout-all")
		}
		wantProblem(t, srv.do(req{method: "POST", path: "/api/v1/logout?scope=other", token: srv.login(a, nil).access}), http.StatusUnprocessableEntity, "")
		srv.wantPair(srv.loginAsPair(a)) // logging in again works
	})
}

func (s *server) loginAsPair(a account) response {
	s.t.Helper()
	return s.loginAs(a.Username, a.Password)
}

func TestSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		longUA := strings.Repeat("é", 200) // 400 bytes
		first := srv.login(a, http.Header{"User-Agent": {"curl/8.5"}})
		srv.Clock.Advance(time.Minute)
		second := srv.login(a, http.Header{"User-Agent": {longUA}})
		b, _ := srv.signUp()
		foreign := srv.login(b, nil)

		var list []map[string]any
		if err := jsonDecode(srv.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: second.access}), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("sessions: got %d, want 2: %v", len(list), list)
		}
		if list[0]["user_agent"] != "curl/8.5" || list[0]["current"] != false || list[1]["current"] != true {
			t.Errorf("sessions: got %v, want the curl one first, not current, and the second current", list)
		}
		if ua := list[1]["user_agent"].(string); ua != strings.Repeat("é", 127) {
			t.Errorf("long user agent: kept %d bytes, want it cut to 254 bytes of whole characters", len(ua))
		}
		for _, s := range list {
			if s["ip"] != "192.0.2.1" {
				t.Errorf("session ip: got %v, want the client address 192.0.2.1", s["ip"])
			}
			for _, k := range []string{"id", "created_at", "last_used_at", "expires_at"} {
				if s[k] == nil || s[k] == "" {
					t.Errorf("session lacks %s: %v", k, s)
				}
			}
		}
		firstID := list[0]["id"].(string)

		var foreignList []map[string]any
		if err := jsonDecode(srv.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: foreign.access}), &foreignList); err != nil || len(foreignList) != 1 {
			t.Fatalf("the other user's sessions: %v, %v", foreignList, err)
		}
		foreignID := foreignList[0]["id"].(string)
		for _, id := range []string{foreignID, uuid.NewString()} {
			res := srv.do(req{method: "DELETE", path: "/api/v1/users/me/sessions/" + id, token: second.access})
			wantProblem(t, res, http.StatusNotFound, "session not found")
		}
		srv.wantMe(foreign.access, http.StatusOK, "the other user's session after a refused revocation")

		res := srv.do(req{method: "DELETE", path: "/api/v1/users/me/sessions/" + firstID, token: second.access})
		if res.Status != http.StatusNoContent {
			t.Fatalf("revoke a session: got %v, want 204", res)
		}
		srv.wantMe(first.access, http.StatusUnauthorized, "a revoked session's access token")
		srv.wantInvalidGrant(first.refresh, "a revoked session's refresh token")
		srv.wantMe(second.access, http.StatusOK, "the current session's access token")
		res = srv.do(req{method: "DELETE", path: "/api/v1/users/me/sessions/" + firstID, token: second.access})
		wantProblem(t, res, http.StatusNotFound, "session not found")
		if err := jsonDecode(srv.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: second.access}), &list); err != nil || len(list) != 1 {
			t.Errorf("sessions after a revocation: got %v (%v), want 1", list, err)
		}
		res = srv.do(req{method: "DELETE", path: "/api/v1/users/me/sessions/not-a-uuid", token: second.access})
		if res.Status != http.StatusUnprocessableEntity && res.Status != http.StatusNotFound {
			t.Errorf("revoke a malformed id: got %v, want 422 or 404", res)
		}
	})
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		here, elsewhere := srv.login(a, nil), srv.login(a, nil)
		res := srv.do(req{method: "PUT", path: "/api/v1/users/me/password", token: here.access,
			body: `{"current_password":"` + a.Password + `","new_password":"a brand new passphrase"}`})
		if res.Status != http.StatusNoContent {
			t.Fatalf("change password: got %v, want 204", res)
		}
		srv.wantMe(here.access, http.StatusUnauthorized, "the changing session's old access token")
		srv.wantMe(elsewhere.access, http.StatusUnauthorized, "another session's access token")
		srv.wantInvalidGrant(elsewhere.refresh, "another session's refresh token")
		// The documented follow-up: the client that changed the password
		// refreshes and carries on.
		next := srv.wantPair(srv.refresh(here.refresh))
		srv.wantMe(next.access, http.StatusOK, "the access token refreshed after the change")
	})
}

func TestDeleteRevokesSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		p, other := srv.login(a, nil), srv.login(a, nil)
		if res := srv.do(req{method: "DELETE", path: "/api/v1/users/me", token: p.access}); res.Status != http.StatusNoContent {
			t.Fatalf("delete: got %v, want 204", res)
		}
		for _, q := range []pair{p, other} {
			srv.wantInvalidGrant(q.refresh, "a deleted user's refresh token")
			srv.wantMe(q.access, http.StatusUnauthorized, "a deleted user's access token")
		}
	})
}

// TestDeactivateRevokesSessions: an administrator's deactivation (the one
// way to deactivate) ends every session of the account at once.
func TestDeactivateRevokesSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		admin, adminID := srv.signUp()
		srv.setRole(adminID, user.RoleAdmin)
		a, id := srv.signUp()
		p := srv.login(a, nil)
		res := srv.do(req{method: "POST", path: "/api/v1/admin/users/" + id.String() + "/deactivate", token: srv.login(admin, nil).access})
		if res.Status != http.StatusOK {
			t.Fatalf("deactivate: got %v, want 200", res)
		}
		srv.wantMe(p.access, http.StatusUnauthorized, "a deactivated user's access token")
		srv.wantInvalidGrant(p.refresh, "a deactivated user's refresh token")
		if got, err := srv.Stores.Sessions.Active(t.Context(), id, srv.Clock.Now(), user.SessionPage{}); err != nil || len(got) != 0 {
			t.Errorf("active sessions after deactivation: got %d, %v; want none", len(got), err)
		}
		wantProblem(t, srv.loginAs(a.Username, a.Password), http.StatusUnauthorized, "incorrect username or password")
	})
}

// TestTokenWithoutSession: every token this service issues names its
// session; one that does not (forged with the key, or from before sessions
// existed) is refused.
func TestTokenWithoutSession(t *testing.T) {
	srv := newSessionServer(t, apptest.Memory)
	_, id := srv.signUp()
	forge := genuine(srv.Clock.Now())
	srv.wantMe(forge.issue(t, security.Claims{UserID: id}), http.StatusUnauthorized, "a token without a session")
	ghost := forge.issue(t, security.Claims{UserID: id, SessionID: uuid.Must(uuid.NewV7())})
	srv.wantMe(ghost, http.StatusUnauthorized, "a token of an unknown session")
}

// TestRefreshRateLimit: refresh grants count against the Refresh limit,
// not the Login one.
func TestRefreshRateLimit(t *testing.T) {
	srv := newSessionServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m", "USERSVC_RATE_LIMIT_REFRESH", "2/1m"))
	a, _ := srv.signUp()
	p := srv.login(a, nil)
	for range 2 {
		res := srv.refresh(p.refresh)
		p = srv.wantPair(res)
		if res.Header.Get("RateLimit-Policy") == "" || !strings.Contains(res.Header.Get("RateLimit-Policy"), `"refresh"`) {
			t.Errorf("refresh RateLimit-Policy: got %q, want the refresh rule", res.Header.Get("RateLimit-Policy"))
		}
	}
	want429(t, srv.refresh(p.refresh), "")
	srv.login(a, nil) // the login limit is not spent by refreshes
}

// TestInactiveAtRefresh: a user found inactive when refreshing (an account
// deactivated behind the service's back) loses every session.
func TestInactiveAtRefresh(t *testing.T) {
	srv := newSessionServer(t, apptest.Memory)
	a, id := srv.signUp()
	p, other := srv.login(a, nil), srv.login(a, nil)
	srv.Memory.SetActive(id, false)
	srv.wantInvalidGrant(p.refresh, "an inactive user's refresh token")
	srv.Memory.SetActive(id, true)
	srv.wantInvalidGrant(other.refresh, "another session of a user found inactive")
}

// jsonDecode decodes a 200 response's JSON body into v.
func jsonDecode(res response, v any) error {
	if res.Status != http.StatusOK {
		return fmt.Errorf("got %v, want 200", res)
	}
	return json.Unmarshal(res.Body, v)
}
