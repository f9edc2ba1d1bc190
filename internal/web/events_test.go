package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
)

// eventSink records the events it gets.
type eventSink = apptest.EventSink

// "Sign out all other sessions" tells consumers which sessions ended: a
// session.revoked for each other session, and none for the one that
// clicked, which lives on. (It used to emit one session.revoked naming
// the session kept: a consumer mirroring sessions ended the user's own
// and kept the others, perhaps a thief's, alive.)
func TestEndOthersEventsNameTheEndedSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newSite(t, kind, apptest.With(app.WithEventSink("test", sink)))
		s.account("ada")
		laptop, phone, tablet := s.browser(), s.browser(), s.browser()
		for _, b := range []*browser{laptop, phone, tablet} {
			b.signIn("ada", password, "/account")
		}
		if p := laptop.post("/account/sessions/end-others", nil); p.status != http.StatusSeeOther {
			t.Fatalf("end others: %d\n%s", p.status, p.body)
		}
		// A sign-in after it: every event before it has come with it.
		s.browser().signIn("ada", password, "/account")
		revoked := map[uuid.UUID]bool{}
		for _, e := range apptest.EventsThrough(t, sink, map[int64]event.Event{}, event.SessionCreated, 4) {
			if e.Type != event.SessionRevoked {
				continue
			}
			var d event.SessionData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatalf("session.revoked data %s: %v", e.Data, err)
			}
			revoked[d.SessionID] = true
		}
		if revoked[laptop.sessionID()] {
			t.Errorf("session.revoked names the laptop's session, which ended the others and lives on")
		}
		for name, b := range map[string]*browser{"phone": phone, "tablet": tablet} {
			if !revoked[b.sessionID()] {
				t.Errorf("the %s's session ended and no session.revoked names it; revoked: %v", name, revoked)
			}
		}
		if p := laptop.get("/account"); p.status != http.StatusOK {
			t.Errorf("the laptop after ending the others: %d, want 200", p.status)
		}
	})
}
