package usertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// NewAuditEvent returns an event of kind by actor about subject at at,
// with a client and no detail; it is not stored.
func NewAuditEvent(kind user.AuditKind, actor, subject uuid.UUID, at time.Time) user.AuditEvent {
	return user.AuditEvent{
		At: at.UTC().Truncate(time.Microsecond), Kind: kind, ActorID: actor, SubjectID: subject,
		IP: "192.0.2.7", UserAgent: "Mozilla/5.0 (usertest) Zoë", RequestID: "req-" + string(kind),
	}
}

// appendAudit stores e or stops the test.
func appendAudit(t *testing.T, log user.AuditLog, e user.AuditEvent) {
	t.Helper()
	if err := log.Append(t.Context(), e); err != nil {
		t.Fatalf("Append(%s): got error %v, want nil", e.Kind, err)
	}
}

// auditEvents lists the events f selects or stops the test.
func auditEvents(t *testing.T, log user.AuditLog, f user.AuditFilter) []user.AuditEvent {
	t.Helper()
	got, err := log.Events(t.Context(), f)
	if err != nil {
		t.Fatalf("Events(%+v): got error %v, want nil", f, err)
	}
	return got
}

// ignoreAuditID leaves out the id the store assigns.
var ignoreAuditID = cmpopts.IgnoreFields(user.AuditEvent{}, "ID")

func testAuditRoundTrip(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	at := now()
	full := NewAuditEvent(user.AuditRoleChanged, uuid.Must(uuid.NewV7()), u.ID, at)
	full.IP = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
	full.UserAgent = strings.Repeat("é", user.MaxUserAgent/2)
	full.RequestID = strings.Repeat("r", 64)
	full.Detail = map[string]string{"role": "admin", "fields": "email,full_name", "quote": `"'\ ✓`}
	anonymous := NewAuditEvent(user.AuditLoginFailed, uuid.Nil, uuid.Nil, at.Add(time.Microsecond))
	anonymous.IP, anonymous.UserAgent, anonymous.RequestID = "", "", ""
	empty := NewAuditEvent(user.AuditDeleted, u.ID, u.ID, at.Add(time.Second))
	empty.Detail = map[string]string{} // reads back as nil
	for _, e := range []user.AuditEvent{full, anonymous, empty} {
		appendAudit(t, st.Audit, e)
	}
	empty.Detail = nil
	got := auditEvents(t, st.Audit, user.AuditFilter{})
	want := []user.AuditEvent{empty, anonymous, full} // newest first
	if diff := cmp.Diff(want, got, ignoreAuditID); diff != "" {
		t.Errorf("Events: mismatch (-want +got):\n%s", diff)
	}
	for i, e := range got {
		if e.At.Location() != time.UTC {
			t.Errorf("event %d: At location = %v, want UTC", i, e.At.Location())
		}
		if i > 0 && e.ID >= got[i-1].ID {
			t.Errorf("event %d: ID %d not below the previous %d: want ids increasing with every append", i, e.ID, got[i-1].ID)
		}
	}
	if len(got) > 0 && got[len(got)-1].ID <= 0 {
		t.Errorf("first event: ID %d, want > 0", got[len(got)-1].ID)
	}
}

// auditFixture appends events of two users and an anonymous caller at
// base+i seconds, in the order listed, and returns them with their ids.
func auditFixture(t *testing.T, log user.AuditLog) (ada, bob uuid.UUID, base time.Time, events []user.AuditEvent) {
	t.Helper()
	ada, bob = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	base = now().Add(-time.Hour)
	for i, e := range []struct {
		kind           user.AuditKind
		actor, subject uuid.UUID
	}{
		{user.AuditRegistered, ada, ada},
		{user.AuditLoginSucceeded, ada, ada},
		{user.AuditRegistered, bob, bob},
		{user.AuditLoginFailed, uuid.Nil, bob},
		{user.AuditLoginFailed, uuid.Nil, uuid.Nil},
		{user.AuditRoleChanged, ada, bob},
		{user.AuditPasswordChanged, bob, bob},
		{user.AuditLoginSucceeded, bob, bob},
	} {
		appendAudit(t, log, NewAuditEvent(e.kind, e.actor, e.subject, base.Add(time.Duration(i)*time.Second)))
	}
	events = auditEvents(t, log, user.AuditFilter{})
	if len(events) != 8 {
		t.Fatalf("Events after 8 appends: got %d events, want 8", len(events))
	}
	return ada, bob, base, events
}

func testAuditFilters(t *testing.T, open newStores) {
	st := open(t)
	ada, bob, base, all := auditFixture(t, st.Audit)
	// all is newest first: all[0] is the last appended (index 7 above).
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	pick := func(appended ...int) []user.AuditEvent { // by append index, newest first
		out := make([]user.AuditEvent, len(appended))
		for i, n := range appended {
			out[i] = all[len(all)-1-n]
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    user.AuditFilter
		want []user.AuditEvent
	}{
		{"none", user.AuditFilter{}, all},
		{"subject", user.AuditFilter{SubjectID: bob}, pick(7, 6, 5, 3, 2)},
		{"actor", user.AuditFilter{ActorID: ada}, pick(5, 1, 0)},
		{"subject and actor", user.AuditFilter{SubjectID: bob, ActorID: ada}, pick(5)},
		{"one kind", user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoginFailed}}, pick(4, 3)},
		{"two kinds", user.AuditFilter{Kinds: []user.AuditKind{user.AuditRegistered, user.AuditRoleChanged}}, pick(5, 2, 0)},
		{"unknown kind", user.AuditFilter{Kinds: []user.AuditKind{"no.such"}}, nil},
		{"since (inclusive)", user.AuditFilter{Since: at(6)}, pick(7, 6)},
		{"until (exclusive)", user.AuditFilter{Until: at(2)}, pick(1, 0)},
		{"since and until", user.AuditFilter{Since: at(2), Until: at(4)}, pick(3, 2)},
		{"before id", user.AuditFilter{BeforeID: pick(3)[0].ID}, pick(2, 1, 0)},
		{"limit", user.AuditFilter{Limit: 3}, pick(7, 6, 5)},
		{"everything", user.AuditFilter{
			SubjectID: bob, Kinds: []user.AuditKind{user.AuditLoginSucceeded, user.AuditLoginFailed, user.AuditRegistered},
			Since: at(1), BeforeID: pick(7)[0].ID, Limit: 1,
		}, pick(3)},
		{"nothing of an unknown user", user.AuditFilter{SubjectID: uuid.Must(uuid.NewV7())}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := auditEvents(t, st.Audit, tt.f)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Events(%+v): mismatch (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

// testAuditKeysetStability pages through the log while events are
// appended between pages: every event that existed at the start shows up
// exactly once, in order, and none appended later does.
func testAuditKeysetStability(t *testing.T, open newStores) {
	st := open(t)
	subject := uuid.Must(uuid.NewV7())
	const n, page = 11, 3
	for i := range n {
		e := NewAuditEvent(user.AuditLoginFailed, uuid.Nil, subject, now())
		e.Detail = map[string]string{"n": fmt.Sprint(i)}
		appendAudit(t, st.Audit, e)
	}
	start := auditEvents(t, st.Audit, user.AuditFilter{SubjectID: subject})
	var seen []user.AuditEvent
	f := user.AuditFilter{SubjectID: subject, Limit: page}
	for range n {
		got := auditEvents(t, st.Audit, f)
		seen = append(seen, got...)
		if len(got) < page {
			break
		}
		f.BeforeID = got[len(got)-1].ID
		// Newer events, of the same subject and of another, between pages.
		appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginFailed, uuid.Nil, subject, now()))
		appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginFailed, uuid.Nil, uuid.Nil, now()))
	}
	if diff := cmp.Diff(start, seen); diff != "" {
		t.Errorf("pages with appends between them: want each first event once, in order (-want +got):\n%s", diff)
	}
}

// testAuditOutlivesUser: deleting an account keeps the events about it,
// unchanged.
func testAuditOutlivesUser(t *testing.T, open newStores) {
	st := open(t)
	u := create(t, st.Users, NewUser(1))
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditRegistered, u.ID, u.ID, now()))
	before := auditEvents(t, st.Audit, user.AuditFilter{SubjectID: u.ID})
	if err := st.Users.Delete(t.Context(), u.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditDeleted, u.ID, u.ID, now()))
	after := auditEvents(t, st.Audit, user.AuditFilter{SubjectID: u.ID})
	if len(after) != 2 || !cmp.Equal(before[0], after[1]) {
		t.Errorf("events after Delete = %+v; want the deletion and, unchanged, %+v", after, before)
	}
}
