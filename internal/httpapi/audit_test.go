package httpapi_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// auditServer is a server whose every request presents the same client,
// a fresh request id and comes a second after the one before (so that each
// event has its own time).
type auditServer struct {
	*server
	reqs atomic.Int64
}

// The client every request of these tests presents. httptest requests
// come from 192.0.2.1.
const (
	auditUA = "audit-test/2.0 (Zoë)"
	auditIP = "192.0.2.1"
)

func newAuditServer(t *testing.T, kind string) *auditServer {
	t.Helper()
	return &auditServer{server: newServer(t, kind, sessionPolicy())}
}

// call sends r with the test's User-Agent and a fresh X-Request-ID, and
// returns the answer and the request id.
func (s *auditServer) call(r req) (response, string) {
	s.t.Helper()
	id := fmt.Sprintf("audit-req-%d", s.reqs.Add(1))
	s.Clock.Advance(time.Second) // every event at its own time
	r.header = http.Header{"User-Agent": {auditUA}, "X-Request-Id": {id}}
	return s.do(r), id
}

// want calls r and fails the test unless it answers status.
func (s *auditServer) want(r req, status int) (response, string) {
	s.t.Helper()
	res, id := s.call(r)
	if res.Status != status {
		s.t.Fatalf("%s %s: got %v, want %d", r.method, r.path, res, status)
	}
	return res, id
}

func tokenForm(v url.Values) req {
	return req{method: "POST", path: "/api/v1/token", body: v.Encode(), contentType: formType}
}

// events returns every stored event, newest first.
func (s *auditServer) events() []user.AuditEvent {
	s.t.Helper()
	all, err := s.Stores.Audit.Events(s.t.Context(), user.AuditFilter{})
	if err != nil {
		s.t.Fatalf("AuditEvents: %v", err)
	}
	return all
}

// registered registers a new account over HTTP and returns it, its id and
// an access token.
func (s *auditServer) registered() (account, uuid.UUID, string) {
	s.t.Helper()
	a := newAccount()
	res, _ := s.want(req{method: "POST", path: "/api/v1/register", body: a.json()}, http.StatusCreated)
	id := uuid.MustParse(res.object(s.t)["id"].(string))
	res, _ = s.want(tokenForm(url.Values{"username": {a.Username}, "password": {a.Password}}), http.StatusOK)
	return a, id, res.object(s.t)["access_token"].(string)
}

// expected is an event one request must have appended.
type expected struct {
	kind           user.AuditKind
	actor, subject uuid.UUID
	detail         map[string]string // keys that must be there, with these values
}

// mailed is the event of the verification mail that a registration or an
// email change by id sends id.
func mailed(id uuid.UUID) expected {
	return expected{kind: user.AuditVerificationSent, actor: id, subject: id}
}

// TestAuditOverHTTP drives every audited flow through the API on both
// databases and checks, for each request, the events it appended, in
// order: their kind, actor, subject, client address, user agent and
// request id; then scans every stored event for the passwords and tokens
// used.
func TestAuditOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		want := map[string][]expected{} // by request id
		var secrets []string
		a := newAccount()
		res, id := s.want(req{method: "POST", path: "/api/v1/register", body: a.json()}, http.StatusCreated)
		me := uuid.MustParse(res.object(t)["id"].(string))
		want[id] = []expected{{kind: user.AuditRegistered, actor: me, subject: me}, mailed(me)}
		secrets = append(secrets, a.Password)

		login := func(password string) (pair, string) {
			t.Helper()
			res, id := s.want(tokenForm(url.Values{"username": {a.Username}, "password": {password}}), http.StatusOK)
			body := res.object(t)
			p := pair{access: body["access_token"].(string), refresh: body["refresh_token"].(string)}
			secrets = append(secrets, p.access, p.refresh)
			want[id] = []expected{{kind: user.AuditLoginSucceeded, actor: me, subject: me}}
			return p, id
		}
		first, _ := login(a.Password)

		_, id = s.want(tokenForm(url.Values{"username": {a.Email}, "password": {"not the password 1"}}), http.StatusUnauthorized)
		want[id] = []expected{{kind: user.AuditLoginFailed, subject: me, detail: map[string]string{"reason": "wrong_password"}}}
		// A password typed into the username field, for no account.
		_, id = s.want(tokenForm(url.Values{"username": {"Secret-Typed-As-Login-9"}, "password": {a.Password}}), http.StatusUnauthorized)
		want[id] = []expected{{kind: user.AuditLoginFailed, detail: map[string]string{"reason": "unknown_account"}}}
		secrets = append(secrets, "not the password 1", "Secret-Typed-As-Login-9")

		_, id = s.want(req{method: "PUT", path: "/api/v1/users/me", token: first.access,
			body: `{"email": "` + strings.ToUpper(a.Email) + `", "full_name": "Audited"}`}, http.StatusOK)
		want[id] = []expected{{kind: user.AuditProfileUpdated, actor: me, subject: me, detail: map[string]string{"fields": "email,full_name"}}, mailed(me)}

		// Refresh, then present the used token again after the grace.
		res, _ = s.want(tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.refresh}}), http.StatusOK)
		secrets = append(secrets, res.object(t)["access_token"].(string), res.object(t)["refresh_token"].(string))
		s.Clock.Advance(2 * grace)
		_, id = s.want(tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.refresh}}), http.StatusBadRequest)
		want[id] = []expected{{kind: user.AuditRefreshReused, subject: me}}

		second, secondLogin := login(a.Password)
		sid := sessionOf(t, s.events(), secondLogin)
		_, id = s.want(req{method: "PUT", path: "/api/v1/users/me/password", token: second.access,
			body: `{"current_password": "` + a.Password + `", "new_password": "a brand new passphrase"}`}, http.StatusNoContent)
		want[id] = []expected{{kind: user.AuditPasswordChanged, actor: me, subject: me}}
		a.Password = "a brand new passphrase"
		secrets = append(secrets, a.Password)
		// The access token of the old password is refused: refresh once.
		res, _ = s.want(tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.refresh}}), http.StatusOK)
		secondAccess := res.object(t)["access_token"].(string)
		secrets = append(secrets, secondAccess, res.object(t)["refresh_token"].(string))

		_, thirdLogin := login(a.Password)
		thirdID := sessionOf(t, s.events(), thirdLogin)
		_, id = s.want(req{method: "DELETE", path: "/api/v1/users/me/sessions/" + thirdID, token: secondAccess}, http.StatusNoContent)
		want[id] = []expected{{kind: user.AuditSessionRevoked, actor: me, subject: me, detail: map[string]string{"session_id": thirdID}}}
		_, id = s.want(req{method: "POST", path: "/api/v1/logout", token: secondAccess}, http.StatusNoContent)
		want[id] = []expected{{kind: user.AuditLoggedOut, actor: me, subject: me, detail: map[string]string{"session_id": sid}}}
		fourth, _ := login(a.Password)
		_, id = s.want(req{method: "POST", path: "/api/v1/logout?scope=all", token: fourth.access}, http.StatusNoContent)
		want[id] = []expected{{kind: user.AuditLoggedOut, actor: me, subject: me, detail: map[string]string{"scope": "all"}}}

		// An administrator (made in the store) deactivates the account.
		admin, adminID, adminToken := s.registered()
		secrets = append(secrets, admin.Password, adminToken)
		s.setRole(adminID, user.RoleAdmin)
		_, id = s.want(req{method: "POST", path: "/api/v1/admin/users/" + me.String() + "/deactivate", token: adminToken}, http.StatusOK)
		want[id] = []expected{{kind: user.AuditDeactivated, actor: adminID, subject: me}}
		_, id = s.want(tokenForm(url.Values{"username": {a.Username}, "password": {a.Password}}), http.StatusUnauthorized)
		want[id] = []expected{{kind: user.AuditLoginFailed, subject: me, detail: map[string]string{"reason": "inactive"}}}

		b, bID, bAccess := s.registered()
		secrets = append(secrets, b.Password, bAccess)
		_, id = s.want(req{method: "DELETE", path: "/api/v1/users/me", token: bAccess}, http.StatusNoContent)
		want[id] = []expected{{kind: user.AuditDeleted, actor: bID, subject: bID}}

		all := s.events()
		t.Run("each request its events", func(t *testing.T) { checkExpected(t, all, want) })
		t.Run("no secret stored", func(t *testing.T) {
			for _, e := range all {
				text := fmt.Sprintf("%#v", e)
				for _, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Errorf("event %d (%s) holds the secret %.12q…: %s", e.ID, e.Kind, secret, text)
					}
				}
			}
		})
	})
}

// sessionOf returns the session id the login of request reqID recorded.
func sessionOf(t *testing.T, events []user.AuditEvent, reqID string) string {
	t.Helper()
	for _, e := range events {
		if e.RequestID == reqID && e.Kind == user.AuditLoginSucceeded {
			return e.Detail["session_id"]
		}
	}
	t.Fatalf("no login event of request %s", reqID)
	return ""
}

// checkExpected checks that every request of want appended exactly its
// events, in order, with the test's client.
func checkExpected(t *testing.T, all []user.AuditEvent, want map[string][]expected) {
	t.Helper()
	byReq := map[string][]user.AuditEvent{}
	for _, e := range slices.Backward(all) { // oldest first
		byReq[e.RequestID] = append(byReq[e.RequestID], e)
	}
	for _, reqID := range slices.Sorted(maps.Keys(want)) {
		ws, got := want[reqID], byReq[reqID]
		if len(got) != len(ws) {
			t.Errorf("request %s (%s): %d events, want %d: %+v", reqID, ws[0].kind, len(got), len(ws), got)
			continue
		}
		for i, w := range ws {
			e := got[i]
			if e.Kind != w.kind || e.ActorID != w.actor || e.SubjectID != w.subject {
				t.Errorf("request %s: event %s by %s about %s; want %s by %s about %s", reqID, e.Kind, e.ActorID, e.SubjectID, w.kind, w.actor, w.subject)
			}
			if e.IP != auditIP || e.UserAgent != auditUA {
				t.Errorf("request %s (%s): client %q %q, want %q %q", reqID, w.kind, e.IP, e.UserAgent, auditIP, auditUA)
			}
			for k, v := range w.detail {
				if e.Detail[k] != v {
					t.Errorf("request %s (%s): detail %v, want %s=%q", reqID, w.kind, e.Detail, k, v)
				}
			}
		}
	}
}

// auditPage is a decoded page of events.
type auditPage struct {
	Items []struct {
		ID        int64             `json:"id"`
		At        time.Time         `json:"at"`
		Kind      string            `json:"kind"`
		ActorID   *string           `json:"actor_id"`
		SubjectID *string           `json:"subject_id"`
		IP        string            `json:"ip"`
		UserAgent string            `json:"user_agent"`
		RequestID string            `json:"request_id"`
		Detail    map[string]string `json:"detail"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (s *auditServer) page(path, token string) auditPage {
	s.t.Helper()
	res, _ := s.want(req{method: "GET", path: path, token: token}, http.StatusOK)
	var p auditPage
	if err := json.Unmarshal(res.Body, &p); err != nil {
		s.t.Fatalf("GET %s: body %s: %v", path, res.Body, err)
	}
	if !strings.Contains(string(res.Body), `"next_cursor":`) {
		s.t.Errorf("GET %s: body %s has no next_cursor", path, res.Body)
	}
	return p
}

func (p auditPage) ids() []int64 {
	out := make([]int64, len(p.Items))
	for i, e := range p.Items {
		out[i] = e.ID
	}
	return out
}

func (p auditPage) kinds() []string {
	out := make([]string, len(p.Items))
	for i, e := range p.Items {
		out[i] = e.Kind
	}
	return out
}

func TestAdminAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		_, adminID, adminToken := s.registered()
		bob, bobID, bobToken := s.registered()
		s.want(tokenForm(url.Values{"username": {bob.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)

		wantProblem(t, s.do(req{method: "GET", path: "/api/v1/admin/audit", token: bobToken}), http.StatusForbidden, user.ErrForbidden.Error())
		wantProblem(t, s.do(req{method: "GET", path: "/api/v1/admin/audit"}), http.StatusUnauthorized, "")
		s.setRole(adminID, user.RoleAdmin)

		all := s.page("/api/v1/admin/audit", adminToken)
		// registered (with its verification mail) and login of each, bob's
		// failed login: 7, newest first.
		if diff := cmp.Diff([]string{"login.failed", "login.succeeded", "email.verification_sent", "user.registered",
			"login.succeeded", "email.verification_sent", "user.registered"}, all.kinds()); diff != "" || all.NextCursor != nil {
			t.Fatalf("all events (-want +got):\n%s\nnext_cursor %v, want null", diff, all.NextCursor)
		}
		e := all.Items[0]
		if e.ActorID != nil || e.SubjectID == nil || *e.SubjectID != bobID.String() || e.IP != auditIP || e.UserAgent != auditUA ||
			!strings.HasPrefix(e.RequestID, "audit-req-") || e.Detail["reason"] != "wrong_password" {
			t.Errorf("failed login on the wire: %+v; want actor null, subject bob, the client and the reason", e)
		}
		if all.Items[1].Detail == nil || all.Items[2].Detail == nil {
			t.Errorf("detail: want an object on every event, got %+v", all.Items)
		}

		// The events of one request share its time: bob's registration and
		// its mail (3 and 2) are since the registration.
		since := url.QueryEscape(all.Items[3].At.Format(time.RFC3339Nano))
		until := url.QueryEscape(all.Items[0].At.Format(time.RFC3339Nano))
		for _, tt := range []struct {
			query string
			want  []int64
		}{
			{"subject_id=" + bobID.String(), pick(all, 0, 1, 2, 3)},
			{"actor_id=" + adminID.String(), pick(all, 4, 5, 6)},
			{"kind=user.registered", pick(all, 3, 6)},
			{"kind=user.registered&kind=login.failed", pick(all, 0, 3, 6)},
			{"kind=user.registered,login.failed", pick(all, 0, 3, 6)},
			{"kind=login.succeeded&subject_id=" + bobID.String(), pick(all, 1)},
			// A kind repeated counts once: 40,000 repeats used to become as
			// many SQL parameters, which SQLite refused (500).
			{"kind=" + strings.Repeat("user.registered,", 40000) + "login.failed", pick(all, 0, 3, 6)},
			{"since=" + since, pick(all, 0, 1, 2, 3)},
			{"since=" + since + "&until=" + until, pick(all, 1, 2, 3)},
			{"limit=2", pick(all, 0, 1)},
		} {
			got := s.page("/api/v1/admin/audit?"+tt.query, adminToken).ids()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("?%s (-want +got):\n%s", tt.query, diff)
			}
		}
		for _, tt := range []struct{ query, location string }{
			{"kind=login.bogus", "query.kind"},
			{"kind=user.registered,nope", "query.kind"},
			{"cursor=!!!", "query.cursor"},
			{"cursor=AAAAAAAAAAA", "query.cursor"}, // id 0
			{"cursor=" + encode(9), "query.cursor"},
			{"limit=0", "query.limit"},
			{"limit=101", "query.limit"},
			{"subject_id=bob", "query.subject_id"},
			{"actor_id=bob", "query.actor_id"},
			{"since=yesterday", "query.since"},
		} {
			res := s.do(req{method: "GET", path: "/api/v1/admin/audit?" + tt.query, token: adminToken})
			body := wantProblem(t, res, http.StatusUnprocessableEntity, "")
			if d, _ := body["detail"].(string); !strings.Contains(d, tt.location) {
				t.Errorf("?%s: detail %q, want it to name %s", tt.query, d, tt.location)
			}
			wantLocated(t, body, tt.location)
		}
		checkPagingStable(t, s, "/api/v1/admin/audit", adminToken, func() {
			s.want(tokenForm(url.Values{"username": {bob.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)
		})
	})
}

// encode is a cursor of the right length that is no base64 of 8 bytes.
func encode(n int) string { return strings.Repeat("A", n) }

// pick returns the ids of p's items at the indexes.
func pick(p auditPage, idx ...int) []int64 {
	out := make([]int64, len(idx))
	for i, n := range idx {
		out[i] = p.Items[n].ID
	}
	return out
}

// checkPagingStable pages through path while more() appends events before
// each next page: every event listed at the start appears exactly once,
// in order, and the last page has no cursor. Pages hold 2 events.
func checkPagingStable(t *testing.T, s *auditServer, path, token string, more func()) {
	t.Helper()
	start := s.page(path+"?limit=100", token).ids()
	if len(start) < 5 {
		t.Fatalf("GET %s: %d events, want 5 or more to page through", path, len(start))
	}
	var seen []int64
	p := s.page(path+"?limit=2", token)
	for range 50 {
		seen = append(seen, p.ids()...)
		if p.NextCursor == nil {
			break
		}
		more()
		p = s.page(path+"?limit=2&cursor="+url.QueryEscape(*p.NextCursor), token)
	}
	if diff := cmp.Diff(start, seen); diff != "" {
		t.Errorf("paging %s with events appended between pages (-want +got):\n%s", path, diff)
	}
}

func TestMyAuditOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		ada, adaID, adaToken := s.registered()
		_, _, bobToken := s.registered()
		for range 3 {
			s.want(tokenForm(url.Values{"username": {ada.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)
		}
		mine := s.page("/api/v1/users/me/audit", adaToken)
		if diff := cmp.Diff([]string{"login.failed", "login.failed", "login.failed", "login.succeeded", "email.verification_sent", "user.registered"}, mine.kinds()); diff != "" {
			t.Errorf("ada's events (-want +got):\n%s", diff)
		}
		for _, e := range mine.Items {
			if e.SubjectID == nil || *e.SubjectID != adaID.String() {
				t.Errorf("ada sees an event about %v: %+v", e.SubjectID, e)
			}
		}
		if got := s.page("/api/v1/users/me/audit", bobToken).kinds(); !cmp.Equal(got, []string{"login.succeeded", "email.verification_sent", "user.registered"}) {
			t.Errorf("bob's events: %v, want only his login, his verification mail and registration", got)
		}
		body := wantProblem(t, s.do(req{method: "GET", path: "/api/v1/users/me/audit?cursor=zz", token: adaToken}), http.StatusUnprocessableEntity, "")
		if d := body["detail"].(string); !strings.Contains(d, "query.cursor") || !strings.Contains(d, "next_cursor") {
			t.Errorf("malformed cursor: detail %q, want it to explain the cursor", d)
		}
		wantProblem(t, s.do(req{method: "GET", path: "/api/v1/users/me/audit"}), http.StatusUnauthorized, "")
		checkPagingStable(t, s, "/api/v1/users/me/audit", adaToken, func() {
			s.want(tokenForm(url.Values{"username": {ada.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)
		})
		// The default page is 20.
		for range 20 {
			s.want(tokenForm(url.Values{"username": {ada.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)
		}
		if p := s.page("/api/v1/users/me/audit", adaToken); len(p.Items) != 20 || p.NextCursor == nil {
			t.Errorf("default page: %d events, next_cursor %v; want 20 and a cursor", len(p.Items), p.NextCursor)
		}
	})
}

// TestMyAuditAndExportInTimeOrder: on each store, with more events than
// an export page, many of equal time and some appended after a step back
// of the clock (a larger id, an earlier time), the user's own listing,
// paged, and the export each have every event about the account once,
// newest first by time, events of equal time newest (highest id) first.
func TestMyAuditAndExportInTimeOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		_, id, token := s.registered()
		_, otherID, _ := s.registered()
		base := s.Clock.Now().Add(-time.Hour)
		const n = 2*user.ExportPage + 30
		err := s.Stores.Tx.Atomic(t.Context(), func(tx user.Stores) error {
			for i := range n {
				// 13 times, revisited: ties, and times that go back.
				e := user.AuditEvent{At: base.Add(time.Duration(i*7%13) * time.Second), Kind: user.AuditLoginFailed, SubjectID: id}
				if i%10 == 0 {
					e.SubjectID = otherID
				}
				if err := tx.Audit.Append(t.Context(), e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(stored, func(a, b user.AuditEvent) int {
			if c := b.At.Compare(a.At); c != 0 {
				return c
			}
			return int(b.ID - a.ID)
		})
		want := make([]int64, len(stored))
		for i, e := range stored {
			want[i] = e.ID
		}
		var seen []int64
		p := s.page("/api/v1/users/me/audit?limit=100", token)
		for range 30 {
			seen = append(seen, p.ids()...)
			if p.NextCursor == nil {
				break
			}
			p = s.page("/api/v1/users/me/audit?limit=100&cursor="+url.QueryEscape(*p.NextCursor), token)
		}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("paging one's own events (-want +got):\n%s", diff)
		}
		s.exportIsExactly(token, id, stored)
	})
}

func TestExportOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		ada, adaID, adaToken := s.registered()
		bob, bobID, bobToken := s.registered()
		// A second session of ada, ended; bob acts too.
		res, _ := s.want(tokenForm(url.Values{"username": {ada.Username}, "password": {ada.Password}}), http.StatusOK)
		s.want(req{method: "POST", path: "/api/v1/logout", token: res.object(t)["access_token"].(string)}, http.StatusNoContent)
		s.want(req{method: "PUT", path: "/api/v1/users/me", token: bobToken, body: `{"full_name": "Bob"}`}, http.StatusOK)

		res, _ = s.want(req{method: "GET", path: "/api/v1/users/me/export", token: adaToken}, http.StatusOK)
		if got := res.Header.Get("Content-Disposition"); got != `attachment; filename="usersvc-export.json"` {
			t.Errorf("Content-Disposition: %q", got)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: %q, want no-store", got)
		}
		var x struct {
			ExportedAt time.Time      `json:"exported_at"`
			Profile    map[string]any `json:"profile"`
			Sessions   []struct {
				ID        string     `json:"id"`
				RevokedAt *time.Time `json:"revoked_at"`
				UserAgent string     `json:"user_agent"`
			} `json:"sessions"`
			AuditEvents []struct {
				Kind      string  `json:"kind"`
				SubjectID *string `json:"subject_id"`
			} `json:"audit_events"`
		}
		if err := json.Unmarshal(res.Body, &x); err != nil {
			t.Fatalf("export body %s: %v", res.Body, err)
		}
		if x.ExportedAt.IsZero() || x.Profile["id"] != adaID.String() || x.Profile["email"] != ada.Email {
			t.Errorf("export: exported_at %v, profile %v; want a time and ada's profile", x.ExportedAt, x.Profile)
		}
		if len(x.Sessions) != 2 || x.Sessions[0].RevokedAt != nil || x.Sessions[1].RevokedAt == nil || x.Sessions[0].UserAgent != auditUA {
			t.Errorf("export sessions: %+v; want both, the second revoked", x.Sessions)
		}
		var kinds []string
		for _, e := range x.AuditEvents {
			kinds = append(kinds, e.Kind)
			if e.SubjectID == nil || *e.SubjectID != adaID.String() {
				t.Errorf("export holds an event about %v", e.SubjectID)
			}
		}
		if want := []string{"session.logged_out", "login.succeeded", "login.succeeded", "email.verification_sent", "user.registered"}; !cmp.Equal(want, kinds) {
			t.Errorf("export events: %v, want %v", kinds, want)
		}
		for _, other := range []string{bobID.String(), bob.Email, bob.Username} {
			if strings.Contains(string(res.Body), other) {
				t.Errorf("the export of ada mentions bob (%s)", other)
			}
		}
		if got := s.page("/api/v1/users/me/audit?limit=1", adaToken).kinds(); !cmp.Equal(got, []string{"user.data_exported"}) {
			t.Errorf("after the export, ada's newest event: %v, want user.data_exported", got)
		}
		wantProblem(t, s.do(req{method: "GET", path: "/api/v1/users/me/export"}), http.StatusUnauthorized, "")
	})
}

// TestAuditKindsDocumented: the kind filter's schema lists every
// kind the service records, as an enum of an array parameter.
func TestAuditKindsDocumented(t *testing.T) {
	srv := newServer(t, apptest.Memory)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Type  string `json:"type"`
					Items struct {
						Enum []string `json:"enum"`
					} `json:"items"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(srv.do(req{method: "GET", path: "/openapi.json"}).Body, &doc); err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, p := range doc.Paths["/api/v1/admin/audit"]["get"].Parameters {
		if p.Name == "kind" && p.Schema.Type == "array" {
			enum = p.Schema.Items.Enum
		}
	}
	for _, k := range user.AuditKinds {
		if !slices.Contains(enum, string(k)) {
			t.Errorf("the kind parameter's enum %q does not list %s", enum, k)
		}
	}
}

// TestAuditCursorOfThePreviousRelease: a next_cursor handed out by the
// release before the time order (an event id, base64url of 8 bytes) still
// pages on to the end of the listing, each event once, in id order, on
// the administrators' listing and on the user's own.
func TestAuditCursorOfThePreviousRelease(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAuditServer(t, kind)
		ada, adminID, adminToken := s.registered()
		s.setRole(adminID, user.RoleAdmin)
		for range 4 {
			s.want(tokenForm(url.Values{"username": {ada.Username}, "password": {"wrong password!"}}), http.StatusUnauthorized)
		}
		for _, path := range []string{"/api/v1/admin/audit", "/api/v1/users/me/audit"} {
			all := s.page(path+"?limit=100", adminToken).ids()
			if len(all) < 6 {
				t.Fatalf("%s: events %v, want 6 or more", path, all)
			}
			//nolint:gosec // ids are positive
			legacy := base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(all[1])))
			var seen []int64
			p := s.page(path+"?limit=2&cursor="+legacy, adminToken)
			for range 20 {
				seen = append(seen, p.ids()...)
				if p.NextCursor == nil {
					break
				}
				p = s.page(path+"?limit=2&cursor="+url.QueryEscape(*p.NextCursor), adminToken)
			}
			if diff := cmp.Diff(all[2:], seen); diff != "" {
				t.Errorf("%s: paging on from a cursor of the previous release (-want +got):\n%s", path, diff)
			}
		}
	})
}

// A user's own audit listing and export say what an administrator did to
// the account and which account did it, but not the address and browser
// the administrator used: that is the administrator's personal data (it
// was shown in both). The address of a failed login, with no actor, is
// still shown: it is what the owner needs to see.
func TestMyAuditHidesTheAdministratorsAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newAdminServer(t, kind)
		victim, victimToken := f.signedUp()
		me := f.do(req{method: "GET", path: "/api/v1/users/me", token: victimToken}).object(t)
		h := http.Header{peerHeader: {"203.0.113.77"}, "User-Agent": {"AdminWorkstation/1.0 (ops-laptop-alice)"}}
		if res := f.do(req{method: "PATCH", path: "/api/v1/admin/users/" + me["id"].(string), token: f.adminToken, body: `{"full_name":"Renamed"}`, header: h}); res.Status != http.StatusOK {
			t.Fatalf("PATCH: %v", res)
		}
		guess := http.Header{peerHeader: {"198.51.100.9"}}
		f.do(req{method: "POST", path: "/api/v1/token", contentType: formType, header: guess,
			body: url.Values{"username": {victim.Username}, "password": {"not the password"}}.Encode()})
		for _, path := range []string{"/api/v1/users/me/audit", "/api/v1/users/me/export"} {
			body := string(f.do(req{method: "GET", path: path, token: victimToken}).Body)
			if !strings.Contains(body, f.adminID) || !strings.Contains(body, "198.51.100.9") {
				t.Errorf("GET %s: want the administrator's id and the failed login's address in\n%.600s", path, body)
			}
			for _, leak := range []string{"203.0.113.77", "ops-laptop-alice"} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s shows the administrator's %q", path, leak)
				}
			}
		}
	})
}
