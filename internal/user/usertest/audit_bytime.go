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
