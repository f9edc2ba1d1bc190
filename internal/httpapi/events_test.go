package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// eventSink records the events it gets.
type eventSink = apptest.EventSink

// TestChangesEmitEvents: over HTTP, each change of an account emits its
// event of the catalogue, numbered 1, 2, 3... for the account, with no
// secret in it; a refused change emits nothing.
func TestChangesEmitEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		a, id := s.signUp()
		verify := s.nextMail(usertest.MailVerify, a.Email)
		if res := s.verify(verify.Token); res.Status != http.StatusOK {
			t.Fatalf("verify: %v", res)
		}
		tok := s.token(a.Username, a.Password)
		wantProblem(t, s.updateMe(tok, `{"email":"not an email"}`), http.StatusUnprocessableEntity, "")
		if res := s.updateMe(tok, `{"full_name":"Ada L."}`); res.Status != http.StatusOK {
			t.Fatalf("update: %v", res)
		}
		if res := s.do(req{method: "POST", path: "/api/v1/logout", token: tok}); res.Status != http.StatusNoContent {
			t.Fatalf("logout: %v", res)
		}
		want := []string{event.UserCreated, event.UserEmailVerified, event.SessionCreated, event.UserUpdated, event.SessionRevoked}
		// A sink may be handed an event more than once (a delivery hands
		// over its user's earlier events still queued): it counts once.
		seen := map[string]bool{}
		got := make([]event.Event, 0, len(want))
		for len(got) < len(want) {
			select {
			case e := <-sink:
				if !seen[e.ID] {
					seen[e.ID] = true
					got = append(got, e)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("events: got %d of %d: %+v", len(got), len(want), got)
			}
		}
		bySeq := map[int64]event.Event{}
		for _, e := range got {
			if e.Subject != id {
				t.Errorf("event %s about %s, want %s", e.Type, e.Subject, id)
			}
			if _, err := uuid.Parse(e.ID); err != nil {
				t.Errorf("event id %q: %v", e.ID, err)
			}
			for _, secret := range []string{a.Password, verify.Token, tok, "hash"} {
				if strings.Contains(string(e.Data), secret) {
					t.Errorf("event %s holds a secret: %s", e.Type, e.Data)
				}
			}
			bySeq[e.Seq] = e
		}
		for i, typ := range want { // delivered in any order, numbered in the changes' order
			if e := bySeq[int64(i+1)]; e.Type != typ {
				t.Errorf("event %d: %s, want %s", i+1, e.Type, typ)
			}
		}
		var updated event.UpdatedData
		if err := json.Unmarshal(bySeq[4].Data, &updated); err != nil || updated.User.FullName != "Ada L." || updated.Fields[0] != "full_name" {
			t.Errorf("user.updated data: %s (%v)", bySeq[4].Data, err)
		}
		for {
			select {
			case e := <-sink:
				if !seen[e.ID] {
					t.Errorf("an event more: %+v", e)
				}
				continue
			default:
			}
			break
		}
	})
}

// TestEventCatalogueIsDocumented: the OpenAPI document's webhooks section
// lists every event type, each with its body schema.
func TestEventCatalogueIsDocumented(t *testing.T) {
	s := newServer(t, apptest.Memory)
	var doc struct {
		Webhooks map[string]struct {
			Post struct {
				RequestBody struct {
					Content map[string]struct {
						Schema struct {
							Ref string `json:"$ref"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"webhooks"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(s.do(req{method: "GET", path: "/openapi.json"}).Body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Webhooks) != len(event.Types) {
		t.Errorf("%d webhooks documented, want %d", len(doc.Webhooks), len(event.Types))
	}
	for _, typ := range event.Types {
		w, ok := doc.Webhooks[typ.Name]
		if !ok {
			t.Errorf("%s is not documented", typ.Name)
			continue
		}
		ref := w.Post.RequestBody.Content["application/json"].Schema.Ref
		schema := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if schema == nil || !strings.Contains(string(schema), `"seq"`) || !strings.Contains(string(schema), `"data"`) {
			t.Errorf("%s: body schema %q missing or without seq and data", typ.Name, ref)
		}
	}
}
