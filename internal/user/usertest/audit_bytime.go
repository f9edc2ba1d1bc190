package usertest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// pageByTime lists every event f selects in (At, ID) order, page events at
// a time, each page after the (At, ID) of the last event of the one
// before, as the administrators' listing pages.
func pageByTime(t *testing.T, log user.AuditLog, f user.AuditFilter, page int) []user.AuditEvent {
	t.Helper()
	f.ByTime, f.Limit = true, page
	var seen []user.AuditEvent
	for range 1000 {
		got := auditEvents(t, log, f)
		seen = append(seen, got...)
		if len(got) < page {
			return seen
		}
		last := got[len(got)-1]
		f.BeforeAt, f.BeforeID = last.At, last.ID
	}
	t.Fatalf("paging %+v: no end after 1000 pages", f)
	return nil
}

// testAuditByTimePaging: in time order, events of equal At (one
// microsecond, as the stores keep it) are told apart by their ID, so that
// paging through them in pages that end among them shows each exactly
// once; an event appended later with an earlier At (another replica's
// clock) takes its place by At, not by ID.
func testAuditByTimePaging(t *testing.T, open newStores) {
	st := open(t)
	base := now().Add(-time.Hour)
	subject := uuid.Must(uuid.NewV7())
	// 3 instants with 4, 3 and 5 events, then one late event at the first.
	for i, n := range []int{4, 3, 5} {
		for j := range n {
			e := NewAuditEvent(user.AuditLoginFailed, uuid.Nil, subject, base.Add(time.Duration(i)*time.Second))
			e.Detail = map[string]string{"n": fmt.Sprint(i, j)}
			appendAudit(t, st.Audit, e)
		}
	}
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoggedOut, uuid.Nil, subject, base))
	all := auditEvents(t, st.Audit, user.AuditFilter{})
	want := slices.Clone(all)
	slices.SortStableFunc(want, func(a, b user.AuditEvent) int { // newest first by (At, ID)
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	if want[len(want)-5].Kind != user.AuditLoggedOut {
		t.Fatalf("fixture: want the late event among the oldest instant's, got %+v", want)
	}
	for _, page := range []int{1, 2, 3, 5, 13, 14} {
		t.Run(fmt.Sprint("page ", page), func(t *testing.T) {
			got := pageByTime(t, st.Audit, user.AuditFilter{}, page)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages of %d by time: want every event once, newest (at, id) first (-want +got):\n%s", page, diff)
			}
			got = pageByTime(t, st.Audit, user.AuditFilter{SubjectID: subject, Since: base, Until: base.Add(2 * time.Second)}, page)
			if diff := cmp.Diff(want[5:], got); diff != "" {
				t.Errorf("pages of %d of a window: want its events once, newest (at, id) first (-want +got):\n%s", page, diff)
			}
		})
	}
}

// testAuditByTimeFilters: in time order, every filter selects what it
// does in id order, and the cursor goes on below it.
func testAuditByTimeFilters(t *testing.T, open newStores) {
	st := open(t)
	ada, bob, base, all := auditFixture(t, st.Audit)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	pick := func(appended ...int) []user.AuditEvent {
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
		{"two kinds", user.AuditFilter{Kinds: []user.AuditKind{user.AuditRegistered, user.AuditRoleChanged}}, pick(5, 2, 0)},
		{"since and until", user.AuditFilter{Since: at(2), Until: at(4)}, pick(3, 2)},
		{"cursor", user.AuditFilter{BeforeAt: at(3), BeforeID: pick(3)[0].ID}, pick(2, 1, 0)},
		{"cursor in a window with a subject", user.AuditFilter{SubjectID: bob, Since: at(1), Until: at(7), BeforeAt: at(5), BeforeID: pick(5)[0].ID, Limit: 1}, pick(3)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ByTime = true
			got := auditEvents(t, st.Audit, tt.f)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Events(%+v): mismatch (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

// testAuditActorByTime: in time order, an actor's events are its actions
// on itself (a login) and on others (an administrator changing another
// account, an action about no account), never others' actions about it;
// paging through them, with or without kinds and a window, in pages that
// end among events of equal At, shows each exactly once, newest (At, ID)
// first. The stores read the two sorts from different indexes (migration
// 00030) and merge them, so the fixture interleaves them at every instant.
func testAuditActorByTime(t *testing.T, open newStores) {
	st := open(t)
	base := now().Add(-time.Hour)
	admin, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	type ev struct {
		kind           user.AuditKind
		actor, subject uuid.UUID
	}
	self := func(kind user.AuditKind) ev { return ev{kind, admin, admin} }
	for i, instant := range [][]ev{
		{self(user.AuditLoginSucceeded), {user.AuditRoleChanged, admin, other}, {user.AuditLoginSucceeded, other, other}, self(user.AuditLoggedOut)},
		{{user.AuditLoginFailed, uuid.Nil, admin}, {user.AuditRoleChanged, admin, other}, self(user.AuditLoginSucceeded), {user.AuditDeactivated, admin, other}},
		{{user.AuditProfileUpdated, other, admin}, self(user.AuditLoginSucceeded), {user.AuditJobRetried, admin, uuid.Nil}, self(user.AuditPasswordChanged), {user.AuditRoleChanged, admin, other}},
		{self(user.AuditLoginSucceeded), {user.AuditRoleChanged, admin, other}, self(user.AuditLoginSucceeded), {user.AuditReactivated, admin, other}},
	} {
		for _, e := range instant {
			appendAudit(t, st.Audit, NewAuditEvent(e.kind, e.actor, e.subject, at(i)))
		}
	}
	// Appended last, at the first instant: another replica's clock.
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditRoleChanged, admin, other, at(0)))
	appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginSucceeded, admin, admin, at(0)))
	all := auditEvents(t, st.Audit, user.AuditFilter{})
	slices.SortStableFunc(all, func(a, b user.AuditEvent) int { // newest first by (At, ID)
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	loginOrRole := []user.AuditKind{user.AuditLoginSucceeded, user.AuditRoleChanged}
	for _, tt := range []struct {
		name string
		f    user.AuditFilter
	}{
		{"every event", user.AuditFilter{}},
		{"two kinds", user.AuditFilter{Kinds: loginOrRole}},
		{"a window", user.AuditFilter{Since: at(1), Until: at(3)}},
		{"two kinds in a window", user.AuditFilter{Kinds: loginOrRole, Since: at(0), Until: at(3)}},
		{"two kinds since", user.AuditFilter{Kinds: loginOrRole, Since: at(2)}},
	} {
		tt.f.ActorID = admin
		var (
			want          []user.AuditEvent
			own, ofOthers int
		)
		for _, e := range all {
			if e.ActorID == admin && (tt.f.Kinds == nil || slices.Contains(tt.f.Kinds, e.Kind)) &&
				(tt.f.Since.IsZero() || !e.At.Before(tt.f.Since)) && (tt.f.Until.IsZero() || e.At.Before(tt.f.Until)) {
				want = append(want, e)
				if e.SubjectID == admin {
					own++
				} else {
					ofOthers++
				}
			}
		}
		if own < 2 || ofOthers < 2 {
			t.Fatalf("fixture: %s selects %d events of the actor about itself and %d about others, want two or more of each", tt.name, own, ofOthers)
		}
		for _, page := range []int{1, 2, 3, 5, len(want), len(want) + 1} {
			t.Run(fmt.Sprint(tt.name, ", pages of ", page), func(t *testing.T) {
				got := pageByTime(t, st.Audit, tt.f, page)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("pages of %d of %+v: want every event of the actor once, newest (at, id) first (-want +got):\n%s", page, tt.f, diff)
				}
			})
		}
		t.Run(tt.name+", no limit", func(t *testing.T) {
			f := tt.f
			f.ByTime = true
			if diff := cmp.Diff(want, auditEvents(t, st.Audit, f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Events(%+v): mismatch (-want +got):\n%s", f, diff)
			}
		})
	}
}
