package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestSessionLimit: with USERSVC_MAX_SESSIONS_PER_USER=3, a fourth and
// fifth login end the two oldest sessions (their tokens are refused), each
// recorded as a revocation for the session limit; the newest three work.
func TestSessionLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind, apptest.Env("USERSVC_MAX_SESSIONS_PER_USER", "3"))
		a, id := srv.signUp()
		var pairs []pair
		for range 5 {
			pairs = append(pairs, srv.login(a, nil))
			srv.Clock.Advance(time.Second)
		}
		for i, p := range pairs {
			want := http.StatusOK
			if i < 2 {
				want = http.StatusUnauthorized
			}
			srv.wantMe(p.access, want, "the token of login "+string(rune('1'+i)))
		}
		if res := srv.refresh(pairs[0].refresh); res.Status != http.StatusBadRequest {
			t.Errorf("refresh of an ended session: got %v, want 400", res)
		}
		events, err := srv.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id, Kinds: []user.AuditKind{user.AuditSessionRevoked}})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 {
			t.Fatalf("session revocations recorded: got %d, want 2: %+v", len(events), events)
		}
		for _, e := range events {
			if e.Detail["reason"] != "session_limit" || e.Detail["session_id"] == "" || e.ActorID != id {
				t.Errorf("revocation event: got %+v, want the user's, with the session and reason session_limit", e)
			}
		}
	})
}

// TestSessionsPaged: GET /users/me/sessions pages with limit and the
// Next-Cursor header through every session once, oldest first; without
// parameters it answers the plain array as before; a forged cursor is 422.
func TestSessionsPaged(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind)
		a, _ := srv.signUp()
		var last pair
		for range 5 {
			last = srv.login(a, nil)
			srv.Clock.Advance(time.Second)
		}
		all := sessionIDs(t, srv, last.access, "")
		if len(all) != 5 {
			t.Fatalf("first page without parameters: got %d sessions, want all 5", len(all))
		}
		var paged []string
		cursor := ""
		for range 10 {
			q := url.Values{"limit": {"2"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			res := srv.do(req{method: "GET", path: "/api/v1/users/me/sessions?" + q.Encode(), token: last.access})
			var page []map[string]any
			if err := jsonDecode(res, &page); err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of limit 2: got %d sessions", len(page))
			}
			for _, s := range page {
				paged = append(paged, s["id"].(string))
			}
			if cursor = res.Header.Get("Next-Cursor"); cursor == "" {
				break
			}
		}
		if !slices.Equal(all, paged) {
			t.Errorf("pages of 2: got %v, want %v", paged, all)
		}
		bad := srv.do(req{method: "GET", path: "/api/v1/users/me/sessions?cursor=" + url.QueryEscape(uuid.NewString()), token: last.access})
		if bad.Status != http.StatusUnprocessableEntity {
			t.Errorf("a forged cursor: got %v, want 422", bad)
		}
	})
}

// sessionIDs lists the ids GET /users/me/sessions?query answers.
func sessionIDs(t *testing.T, srv *server, access, query string) []string {
	t.Helper()
	var list []map[string]any
	if err := jsonDecode(srv.do(req{method: "GET", path: "/api/v1/users/me/sessions" + query, token: access}), &list); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s["id"].(string)
	}
	return ids
}

// TestSessionLimitConcurrentLogins: logins of one account at once, at
// the session limit, never leave more than USERSVC_MAX_SESSIONS_PER_USER
// sessions whose tokens work. On PostgreSQL each login counted the live
// sessions without seeing the other's new one, both ended the same
// oldest session, and the account kept one (or more) over the limit.
func TestSessionLimitConcurrentLogins(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		const limit, logins, rounds = 2, 6, 5
		srv := newSessionServer(t, kind, apptest.Env("USERSVC_MAX_SESSIONS_PER_USER", strconv.Itoa(limit)))
		a, _ := srv.signUp()
		for round := range rounds {
			res := make([]response, logins)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range logins {
				wg.Go(func() {
					<-start
					res[i] = srv.doTB(t, req{method: "POST", path: "/api/v1/token", contentType: formType,
						body: url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()})
				})
			}
			close(start)
			wg.Wait()
			working := 0
			for _, r := range res {
				if r.Status != http.StatusOK {
					t.Fatalf("round %d: login: got %v, want 200", round, r)
				}
				if srv.me(r.object(t)["access_token"].(string)) == http.StatusOK {
					working++
				}
			}
			if working > limit {
				t.Fatalf("round %d: %d of %d logins at once have working sessions, want at most %d", round, working, logins, limit)
			}
		}
	})
}

// TestSessionLimitKeepsTheNewLogin: a login at the session limit ends
// the oldest other session, never its own, even when its clock is behind
// the one of the login before it (another replica's). It used to end its
// own new session and answer 200 with tokens refused at once, while the
// other login's session stayed.
func TestSessionLimitKeepsTheNewLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newSessionServer(t, kind, apptest.Env("USERSVC_MAX_SESSIONS_PER_USER", "1"))
		a, _ := srv.signUp()
		first := srv.login(a, nil)
		srv.Clock.Advance(-time.Second) // the next login's replica is a second behind
		second := srv.login(a, nil)
		srv.wantMe(second.access, http.StatusOK, "the token of the newest login")
		srv.wantMe(first.access, http.StatusUnauthorized, "the token of the login it replaced")
	})
}
