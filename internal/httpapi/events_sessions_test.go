package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestSessionRevokedEventsNameTheEndedSessions: a consumer that mirrors
// sessions learns from session.revoked exactly which sessions ended. A
// password change ends the account's other sessions: one session.revoked
// for each of them, none for the session that changed it, which lives on.
// A refresh token used again after its rotation ends its session (a
// stolen token): a session.revoked for it, so that the consumer stops
// trusting it too.
func TestSessionRevokedEventsNameTheEndedSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newSessionServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, _ := s.signUp()
		laptop, phone, tablet := s.login(a, nil), s.login(a, nil), s.login(a, nil)
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: laptop.access,
			body: `{"current_password": "` + a.Password + `", "new_password": "a brand new passphrase"}`}); res.Status != http.StatusNoContent {
			t.Fatalf("change the password: %v", res)
		}
		a.Password = "a brand new passphrase"
		bySeq := map[int64]event.Event{}
		revoked := revokedSessions(t, apptest.EventsThrough(t, sink, bySeq, event.UserPasswordChanged, 1))
		for name, p := range map[string]pair{"phone": phone, "tablet": tablet} {
			if !revoked[sidOf(t, p.access)] {
				t.Errorf("the %s's session ended with the password change and no session.revoked names it; revoked: %v", name, revoked)
			}
		}
		if revoked[sidOf(t, laptop.access)] {
			t.Errorf("session.revoked names the laptop's session, which changed the password and lives on")
		}
		// The laptop's session lives on (its access token, of the old
		// password, is refused: a refresh gives a new one).
		laptop = s.wantPair(s.refresh(laptop.refresh))

		thief := s.login(a, nil)
		s.wantPair(s.refresh(thief.refresh))
		s.Clock.Advance(grace + time.Second)
		s.wantInvalidGrant(thief.refresh, "a rotated token after the grace (reuse)")
		// A change after the reuse: every event before it has come.
		if res := s.updateMe(laptop.access, `{"full_name":"Ada L."}`); res.Status != http.StatusOK {
			t.Fatalf("update: %v", res)
		}
		events := apptest.EventsThrough(t, sink, bySeq, event.UserUpdated, 1)
		if sid := sidOf(t, thief.access); !revokedSessions(t, events)[sid] {
			t.Errorf("the session ended by a reused refresh token (%s) has no session.revoked:\n%s", sid, apptest.ListEvents(events))
		}
	})
}

// firstEvents waits for the account's events 1 to n (delivered in any
// order, a repeat counted once) and returns them in seq order; the test
// fails when they do not come.
func firstEvents(t *testing.T, sink eventSink, n int) []event.Event {
	t.Helper()
	bySeq := map[int64]event.Event{}
	deadline := time.After(10 * time.Second)
	for len(bySeq) < n {
		select {
		case e := <-sink:
			if e.Seq <= int64(n) {
				bySeq[e.Seq] = e
			}
		case <-deadline:
			t.Fatalf("events: got %d of %d:\n%s", len(bySeq), n, apptest.ListEvents(slices.Collect(maps.Values(bySeq))))
		}
	}
	out := make([]event.Event, 0, n)
	for seq := int64(1); seq <= int64(n); seq++ {
		out = append(out, bySeq[seq])
	}
	return out
}

// revokedSessions is the set of sessions the session.revoked events among
// events name.
func revokedSessions(t *testing.T, events []event.Event) map[uuid.UUID]bool {
	t.Helper()
	out := map[uuid.UUID]bool{}
	for _, e := range events {
		if e.Type != event.SessionRevoked {
			continue
		}
		var d event.SessionData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("session.revoked data %s: %v", e.Data, err)
		}
		out[d.SessionID] = true
	}
	return out
}

// sidOf is the session id (sid) an access token carries.
func sidOf(t *testing.T, access string) uuid.UUID {
	t.Helper()
	parts := strings.Split(access, ".")
	var claims struct {
		SID string `json:"sid"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		t.Fatalf("the claims of %q: %v", access, err)
	}
	return uuid.MustParse(claims.SID)
}

// A name its owner clears reaches consumers as cleared: user.updated names
// full_name among its fields and its user has "full_name": "". (The key
// used to be left out when empty, so a consumer merging the user it got
// into its copy kept the name the owner had removed.)
func TestClearedFullNameReachesConsumers(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, _ := s.signUp()
		tok := s.token(a.Username, a.Password)
		for _, body := range []string{`{"full_name":"Ada Lovelace"}`, `{"full_name":""}`} {
			if res := s.updateMe(tok, body); res.Status != http.StatusOK {
				t.Fatalf("update %s: %v", body, res)
			}
		}
		events := firstEvents(t, sink, 4) // created, session.created, the two user.updated
		var cleared struct {
			User   map[string]any `json:"user"`
			Fields []string       `json:"fields"`
		}
		if err := json.Unmarshal(events[3].Data, &cleared); err != nil || events[3].Type != event.UserUpdated {
			t.Fatalf("event 4: %s %s (%v)", events[3].Type, events[3].Data, err)
		}
		name, ok := cleared.User["full_name"]
		if len(cleared.Fields) != 1 || cleared.Fields[0] != "full_name" || !ok || name != "" {
			t.Errorf("user.updated of the cleared name: %s; want fields [full_name] and \"full_name\": \"\"", events[3].Data)
		}
	})
}

// The ways back from a takeover end every session of the account, and say
// so: a password reset and the undo of an email change each emit a
// session.revoked with all, so that a consumer mirroring sessions ends the
// attacker's too. (They ended the sessions and emitted none.)
func TestRecoveryEndsEverySessionAndSaysSo(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newLifecycleServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		owner, _ := s.signUp()
		s.nextMail(usertest.MailVerify, owner.Email)
		bySeq := map[int64]event.Event{}
		all := func(events []event.Event) int {
			n := 0
			for _, e := range events {
				var d event.SessionData
				if e.Type == event.SessionRevoked && json.Unmarshal(e.Data, &d) == nil && d.All {
					n++
				}
			}
			return n
		}

		s.token(owner.Username, owner.Password)
		if res := s.requestReset(owner.Email, nil); res.Status != http.StatusAccepted {
			t.Fatalf("reset request: %v", res)
		}
		reset := s.nextMail(usertest.MailReset, owner.Email)
		owner.Password = "a brand new passphrase"
		if res := s.confirmReset(reset.Token, owner.Password); res.Status != http.StatusNoContent {
			t.Fatalf("reset: %v", res)
		}
		if n := all(apptest.EventsThrough(t, sink, bySeq, event.UserPasswordChanged, 1)); n != 1 {
			t.Errorf("a password reset: %d session.revoked with all, want 1", n)
		}

		fresh := s.token(owner.Username, owner.Password)
		s.drainMail()
		if res := s.updateMe(fresh, `{"email":"attacker@evil.example"}`); res.Status != http.StatusOK {
			t.Fatalf("email change: %v", res)
		}
		undo := s.nextMail(usertest.MailEmailChanged, owner.Email)
		if res := s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})}); res.Status != http.StatusNoContent {
			t.Fatalf("undo: %v, want 204", res)
		}
		// A third login after it: every event before it has come with it.
		s.token(owner.Username, owner.Password)
		if n := all(apptest.EventsThrough(t, sink, bySeq, event.SessionCreated, 3)); n != 2 {
			t.Errorf("a reset and an undo: %d session.revoked with all, want 2", n)
		}
	})
}

// wantEnded fails unless the session.revoked events among events cover
// every session of sessions (named, or all of the account's), which ended
// with how.
func wantEnded(t *testing.T, events []event.Event, how string, sessions ...string) {
	t.Helper()
	all, named := false, map[uuid.UUID]bool{}
	for _, e := range events {
		if e.Type != event.SessionRevoked {
			continue
		}
		var d event.SessionData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("session.revoked data %s: %v", e.Data, err)
		}
		all, named[d.SessionID] = all || d.All, true
	}
	for _, access := range sessions {
		if sid := sidOf(t, access); !all && !named[sid] {
			t.Errorf("%s ended session %s and no session.revoked says so:\n%s", how, sid, apptest.ListEvents(events))
		}
	}
}

// TestDeactivationAnnouncesEndedSessions: deactivating an account ends
// its sessions, and a consumer that mirrors sessions learns it from
// session.revoked, as it does of a logout or a password reset (there used
// to be none: the consumer kept the sessions as live).
func TestDeactivationAnnouncesEndedSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		s := newAdminServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, id := s.signUp()
		laptop, phone := s.login(a, nil), s.login(a, nil)
		path := "/api/v1/admin/users/" + id.String()
		if res := s.do(req{method: "POST", path: path + "/deactivate", token: s.adminToken}); res.Status != http.StatusOK {
			t.Fatalf("deactivate: %v", res)
		}
		// A change after: every event of the deactivation has come before it.
		if res := s.do(req{method: "PATCH", path: path, token: s.adminToken, body: `{"full_name":"Gone"}`}); res.Status != http.StatusOK {
			t.Fatalf("rename: %v", res)
		}
		events := apptest.EventsAbout(t, sink, map[int64]event.Event{}, id, event.UserUpdated, 1)
		wantEnded(t, events, "the deactivation", laptop.access, phone.access)
	})
}

// TestOperatorPasswordAnnouncesEndedSessions: the operator's create-admin
// with a new password (PromoteAdmin) ends every session of the account,
// whoever held them, and session.revoked says so.
func TestOperatorPasswordAnnouncesEndedSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		s := newSessionServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, _ := s.signUp()
		laptop, phone := s.login(a, nil), s.login(a, nil)
		if _, err := s.App.Service().PromoteAdmin(t.Context(), a.Email, a.Username, "the operator's passphrase"); err != nil {
			t.Fatalf("create-admin with a new password: %v", err)
		}
		s.wantInvalidGrant(laptop.refresh, "a session ended by the operator's password")
		events := apptest.EventsThrough(t, sink, map[int64]event.Event{}, event.UserRoleChanged, 1)
		wantEnded(t, events, "the operator's new password", laptop.access, phone.access)
	})
}

// TestInactiveAtRefreshAnnouncesEndedSessions: a refresh token presented
// for an account found inactive (deactivated behind the service's back)
// ends the account's sessions, and session.revoked says so, as every
// other end of sessions does.
func TestInactiveAtRefreshAnnouncesEndedSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		s := newSessionServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, id := s.signUp()
		laptop, phone := s.login(a, nil), s.login(a, nil)
		off, on := false, true
		if _, err := s.Stores.Users.Update(t.Context(), id, user.Patch{IsActive: &off}); err != nil {
			t.Fatal(err)
		}
		s.wantInvalidGrant(laptop.refresh, "an inactive account's refresh token")
		if _, err := s.Stores.Users.Update(t.Context(), id, user.Patch{IsActive: &on}); err != nil {
			t.Fatal(err)
		}
		s.wantInvalidGrant(phone.refresh, "another session of the account found inactive")
		s.login(a, nil) // a change after: every event before it has come
		events := apptest.EventsThrough(t, sink, map[int64]event.Event{}, event.SessionCreated, 3)
		wantEnded(t, events, "the refresh of an inactive account", laptop.access, phone.access)
	})
}

// TestTokenRevocationAnnouncesEndedSession: revoking a token (RFC 7009)
// ends its session, and session.revoked names it, as a logout does.
func TestTokenRevocationAnnouncesEndedSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(apptest.EventSink, 64)
		s := newSessionServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, _ := s.signUp()
		byRefresh, byAccess := s.login(a, nil), s.login(a, nil)
		for _, token := range []string{byRefresh.refresh, byAccess.access} {
			if res := s.revoke(url.Values{"token": {token}}); res.Status != http.StatusOK {
				t.Fatalf("revoke: %v", res)
			}
		}
		s.login(a, nil) // a change after: every event before it has come
		events := apptest.EventsThrough(t, sink, map[int64]event.Event{}, event.SessionCreated, 3)
		named := revokedSessions(t, events)
		for _, p := range []pair{byRefresh, byAccess} {
			if sid := sidOf(t, p.access); !named[sid] {
				t.Errorf("the revoked session %s has no session.revoked:\n%s", sid, apptest.ListEvents(events))
			}
		}
	})
}

// TestAccountDeletionAnnouncesEndedSessions: deleting an account, by its
// owner or by an administrator, ends its sessions, and a consumer that
// mirrors sessions learns it as it does of a password reset's: one
// session.revoked of all the account's sessions, before the user.deleted.
// (Deletion emitted user.deleted alone: the consumer kept the sessions as
// live.)
func TestAccountDeletionAnnouncesEndedSessions(t *testing.T) {
	for _, by := range []string{"owner", "administrator"} {
		t.Run(by, func(t *testing.T) {
			eachStore(t, func(t *testing.T, kind string) {
				sink := make(apptest.EventSink, 64)
				s := newAdminServer(t, kind, sessionPolicy(), apptest.With(app.WithEventSink("test", sink)))
				a, id := s.signUp()
				laptop, _ := s.login(a, nil), s.login(a, nil)
				r := req{method: "DELETE", path: "/api/v1/users/me", token: laptop.access}
				if by == "administrator" {
					r = req{method: "DELETE", path: "/api/v1/admin/users/" + id.String(), token: s.adminToken}
				}
				if res := s.do(r); res.Status != http.StatusNoContent {
					t.Fatalf("delete: %v, want 204", res)
				}
				events := apptest.EventsAbout(t, sink, map[int64]event.Event{}, id, event.UserDeleted, 1)
				all, revoked := 0, 0
				for _, e := range events {
					if e.Type != event.SessionRevoked {
						continue
					}
					revoked++
					var d event.SessionData
					if err := json.Unmarshal(e.Data, &d); err != nil {
						t.Fatalf("session.revoked data %s: %v", e.Data, err)
					}
					if d.All && events[len(events)-1].Type == event.UserDeleted {
						all++
					}
				}
				if all != 1 || revoked != 1 {
					t.Errorf("%d session.revoked, %d of all sessions before user.deleted; want one of all:\n%s", revoked, all, apptest.ListEvents(events))
				}
			})
		})
	}
}
