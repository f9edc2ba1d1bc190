package user_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// auditFixture is a fixture whose service, following p, reads a clock
// the test moves.
type auditFixture struct {
	fixture
	now *time.Time
}

var client = user.Client{UserAgent: "audit-test/1.0", IP: "198.51.100.9", RequestID: "req-42"}

func newAuditFixture(t *testing.T, p user.Policy) auditFixture {
	t.Helper()
	f := auditFixture{fixture: newFixture(t), now: new(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))}
	d := f.deps()
	d.Now = func() time.Time { return *f.now }
	f.svc = user.NewService(d, p)
	return f
}

// TestAuditedFlows: each flow appends its one event, with the actor,
// subject, client and detail it should have.
func TestAuditedFlows(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	ctx := user.WithClient(t.Context(), client)
	u := f.register(t, ada)
	admin, err := f.svc.CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: "root password"}, "")
	if err != nil {
		t.Fatal(err)
	}
	mustLogin := func() user.AccessToken {
		t.Helper()
		tok, err := f.svc.Login(ctx, "ada", ada.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ev := func(kind user.AuditKind, actor, subject uuid.UUID, detail map[string]string) user.AuditEvent {
		return user.AuditEvent{Kind: kind, ActorID: actor, SubjectID: subject,
			IP: client.IP, UserAgent: client.UserAgent, RequestID: client.RequestID, Detail: detail}
	}
	var one, two user.AccessToken
	for _, tt := range []struct {
		name string
		do   func() error
		want func() user.AuditEvent
	}{
		{"login succeeded", func() error { one = mustLogin(); return nil },
			func() user.AuditEvent {
				return ev(user.AuditLoginSucceeded, u.ID, u.ID, map[string]string{"session_id": one.SessionID.String()})
			}},
		{"wrong password", func() error { _, err := f.svc.Login(ctx, "ada", "wrong password!", ""); return err },
			func() user.AuditEvent {
				return ev(user.AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": "wrong_password"})
			}},
		{"unknown account", func() error { _, err := f.svc.Login(ctx, "nobody", ada.Password, ""); return err },
			func() user.AuditEvent {
				return ev(user.AuditLoginFailed, uuid.Nil, uuid.Nil, map[string]string{"reason": "unknown_account"})
			}},
		{"profile updated", func() error {
			_, err := f.svc.Update(ctx, signedIn(u.ID, uuid.Nil), user.Patch{Email: new("ada@example.org"), FullName: new("Ada")}, "")
			return err
		}, func() user.AuditEvent {
			return ev(user.AuditProfileUpdated, u.ID, u.ID, map[string]string{"fields": "email,full_name"})
		}},
		{"logout", func() error { return f.svc.Logout(ctx, u.ID, one.SessionID) },
			func() user.AuditEvent {
				return ev(user.AuditLoggedOut, u.ID, u.ID, map[string]string{"session_id": one.SessionID.String()})
			}},
		{"session revoked", func() error { two = mustLogin(); return f.svc.RevokeSession(ctx, u.ID, two.SessionID) },
			func() user.AuditEvent {
				return ev(user.AuditSessionRevoked, u.ID, u.ID, map[string]string{"session_id": two.SessionID.String()})
			}},
		{"logout all", func() error { return f.svc.LogoutAll(ctx, u.ID) },
			func() user.AuditEvent { return ev(user.AuditLoggedOut, u.ID, u.ID, map[string]string{"scope": "all"}) }},
		{"password changed", func() error {
			return f.svc.ChangePassword(ctx, signedIn(u.ID, uuid.Nil), ada.Password, "a new passphrase")
		},
			func() user.AuditEvent { return ev(user.AuditPasswordChanged, u.ID, u.ID, nil) }},
		{"deactivated", func() error {
			_, err := f.svc.AdminUpdate(ctx, recently(admin), u.ID, user.Patch{IsActive: new(false)})
			return err
		}, func() user.AuditEvent { return ev(user.AuditDeactivated, admin.ID, u.ID, nil) }},
		{"inactive", func() error { _, err := f.svc.Login(ctx, "ada", "a new passphrase", ""); return err },
			func() user.AuditEvent {
				return ev(user.AuditLoginFailed, uuid.Nil, u.ID, map[string]string{"reason": "inactive"})
			}},
		{"deleted", func() error { return f.svc.Delete(ctx, signedIn(u.ID, uuid.Nil)) },
			func() user.AuditEvent { return ev(user.AuditDeleted, u.ID, u.ID, nil) }},
	} {
		*f.now = f.now.Add(time.Minute)
		before := len(f.events(t))
		_ = tt.do() // the failures are what some cases record
		all := f.events(t)
		if tt.name == "session revoked" { // its login appended one more
			before++
		}
		if len(all) != before+1 {
			t.Errorf("%s: %d events appended, want 1: %+v", tt.name, len(all)-before, all[before:])
			continue
		}
		got := all[len(all)-1]
		want := tt.want()
		want.At = *f.now
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(user.AuditEvent{}, "ID")); diff != "" {
			t.Errorf("%s: event mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if lost := f.log.records(t, logAuditLost); len(lost) > 0 {
		t.Errorf("append failures: %v", lost)
	}
}

// TestAuditRegisteredAndRefreshReuse covers the events of registration
// and of a refresh token reused after its grace.
func TestAuditRegisteredAndRefreshReuse(t *testing.T) {
	f := newAuditFixture(t, user.Policy{Sessions: user.SessionPolicy{RefreshTTL: time.Hour, MaxAge: 2 * time.Hour, ReuseGrace: time.Second}})
	ctx := user.WithClient(t.Context(), client)
	u, err := f.svc.Register(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.svc.Login(ctx, "ada", ada.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(time.Minute)
	if _, err := f.svc.Refresh(ctx, tok.RefreshToken); !errors.Is(err, user.ErrInvalidGrant) {
		t.Fatalf("reuse after the grace: got %v, want %v", err, user.ErrInvalidGrant)
	}
	var kinds []user.AuditKind
	all := f.events(t)
	for _, e := range all {
		kinds = append(kinds, e.Kind)
	}
	want := []user.AuditKind{user.AuditRegistered, user.AuditLoginSucceeded, user.AuditRefreshReused}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("event kinds (-want +got):\n%s", diff)
	}
	if e := all[0]; e.ActorID != u.ID || e.SubjectID != u.ID || e.RequestID != client.RequestID {
		t.Errorf("registered: %+v, want actor and subject %s and the client", e, u.ID)
	}
	if e := all[2]; e.ActorID != uuid.Nil || e.SubjectID != u.ID || e.Detail["session_id"] != tok.SessionID.String() {
		t.Errorf("refresh reused: %+v, want no actor, subject %s, session %s", e, u.ID, tok.SessionID)
	}
}

// TestAuditFailureDoesNotFailTheRequest: an append that fails is logged
// as an error, for an alert, and the flow carries on.
func TestAuditFailureDoesNotFailTheRequest(t *testing.T) {
	f := newFixture(t)
	d := f.deps()
	d.Stores = usertest.Wrap(d.Stores, func(s user.Stores) user.Stores { s.Audit = failingLog{s.Audit}; return s })
	svc := user.NewService(d, user.Policy{})
	if _, err := svc.Register(t.Context(), ada); err != nil {
		t.Fatalf("Register with a failing audit log: %v, want success", err)
	}
	lost := f.log.records(t, logAuditLost)
	if len(lost) != 1 || lost[0]["level"] != "ERROR" || lost[0]["kind"] != string(user.AuditRegistered) || lost[0]["error"] != errDown.Error() {
		t.Errorf("failures logged: %v, want one error naming %s and %v", lost, user.AuditRegistered, errDown)
	}
	if _, err := f.stores.Users.ByEmail(t.Context(), ada.Email); err != nil {
		t.Errorf("the account after a lost audit event: %v, want it stored", err)
	}
}

// failingLog is an audit log whose appends fail.
type failingLog struct{ user.AuditLog }

func (failingLog) Append(context.Context, user.AuditEvent) error { return errDown }

func TestAuditEventsQuery(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	ctx := t.Context()
	u := f.register(t, ada)
	admin := u
	admin.Role = user.RoleAdmin
	for range 5 {
		_, _ = f.svc.Login(ctx, "ada", "wrong password!", "")
	}
	if _, err := f.svc.AuditEvents(ctx, u, user.AuditFilter{}); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("AuditEvents by a plain user: got %v, want %v", err, user.ErrForbidden)
	}
	var v *user.ValidationError
	if _, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Kinds: []user.AuditKind{user.AuditLoginFailed, "login.bogus"}}); !errors.As(err, &v) || v.Field != "kind" {
		t.Errorf("AuditEvents with an unknown kind: got %v, want a ValidationError on kind", err)
	}
	// 6 events: registered, then 5 failed logins. Pages of 4 then 2.
	p1, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Limit: 4})
	last := p1.Events[len(p1.Events)-1]
	if err != nil || len(p1.Events) != 4 || p1.Next != (user.AuditCursor{At: last.At, ID: last.ID}) {
		t.Fatalf("first page of 4: got %+v, %v; want 4 events and Next the last one's (at, id)", p1, err)
	}
	p2, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Limit: 4, BeforeAt: p1.Next.At, BeforeID: p1.Next.ID})
	if err != nil || len(p2.Events) != 2 || p2.Next.ID != 0 || p2.Events[1].Kind != user.AuditRegistered {
		t.Fatalf("last page: got %+v, %v; want the 2 oldest events and no Next", p2, err)
	}
	// A cursor of a release before the time order (an id alone) goes on in
	// id order, its own next cursor an id alone too.
	legacy, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Limit: 2, BeforeID: p1.Events[1].ID})
	if err != nil || len(legacy.Events) != 2 || legacy.Events[0].ID != p1.Events[2].ID || legacy.Next != (user.AuditCursor{ID: p1.Events[3].ID}) {
		t.Errorf("page after an id-only cursor: got %+v, %v; want events 3 and 4 of the first page and Next the id of the 4th alone", legacy, err)
	}
	exact, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Limit: 6})
	if err != nil || len(exact.Events) != 6 || exact.Next.ID != 0 {
		t.Errorf("a page of exactly all: got %d events, Next %+v, %v; want 6, none", len(exact.Events), exact.Next, err)
	}
	for _, tt := range []struct{ limit, want int }{{0, 6}, {-1, 6}, {1000, 6}} {
		p, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{Limit: tt.limit})
		if err != nil || len(p.Events) != tt.want {
			t.Errorf("Limit %d: got %d events, %v; want %d", tt.limit, len(p.Events), err, tt.want)
		}
	}
	f.mem.SetFail(errDown)
	if _, err := f.svc.AuditEvents(ctx, admin, user.AuditFilter{}); !errors.Is(err, errDown) {
		t.Errorf("AuditEvents on a failing store: got %v, want %v", err, errDown)
	}
}

func TestMyAuditAndExport(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	ctx := user.WithClient(t.Context(), client)
	u := f.register(t, ada)
	other := f.register(t, user.Registration{Email: "bob@example.com", Username: "bob", Password: "another passphrase"})
	if _, err := f.svc.Login(ctx, "ada", ada.Password, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, "bob", "another passphrase", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.LogoutAll(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	mine, err := f.svc.MyAudit(ctx, u, user.AuditCursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []user.AuditKind
	for _, e := range mine.Events {
		if e.SubjectID != u.ID {
			t.Errorf("MyAudit: event %+v is not about the user", e)
		}
		kinds = append(kinds, e.Kind)
	}
	if want := []user.AuditKind{user.AuditLoggedOut, user.AuditLoginSucceeded, user.AuditRegistered}; !cmp.Equal(want, kinds) {
		t.Errorf("MyAudit kinds = %v, want %v", kinds, want)
	}

	x, err := f.svc.Export(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if sessions := collect(t, x.Sessions); x.Profile.ID != u.ID || x.At != *f.now || len(sessions) != 1 || sessions[0].RevokedAt.IsZero() {
		t.Errorf("Export = %+v; want the profile, now, and the one (revoked) session", x)
	}
	if diff := cmp.Diff(mine.Events, collect(t, x.Events)); diff != "" {
		t.Errorf("Export events differ from MyAudit (-want +got):\n%s", diff)
	}
	after, _ := f.svc.MyAudit(ctx, u, user.AuditCursor{}, 1)
	if len(after.Events) != 1 || after.Events[0].Kind != user.AuditDataExported || after.Next.ID == 0 {
		t.Errorf("MyAudit after Export: %+v, want the export recorded and a next page", after)
	}
	if theirs, _ := f.svc.MyAudit(ctx, other, user.AuditCursor{}, 0); len(theirs.Events) != 2 {
		t.Errorf("the other user's events: %+v, want their registration and login only", theirs.Events)
	}

	// A failing store fails the export at each step, and records nothing.
	for _, fail := range []func(){
		func() { f.mem.SetFail(errDown) },
		func() { f.mem.SetAfterByID(func(user.User) { f.mem.SetFail(errDown) }) },
	} {
		f.mem.SetFail(nil)
		fail()
		if _, err := f.svc.Export(ctx, u); !errors.Is(err, errDown) {
			t.Errorf("Export on a failing store: got %v, want %v", err, errDown)
		}
		f.mem.SetAfterByID(nil)
	}
	f.mem.SetFail(nil)
	deleted := user.User{ID: uuid.Must(uuid.NewV7()), Email: "gone@example.com", Username: "gone", IsActive: true}
	if _, err := f.svc.Export(ctx, deleted); !errors.Is(err, user.ErrUnauthenticated) {
		t.Errorf("Export of a missing user (the caller's account, gone): got %v, want %v", err, user.ErrUnauthenticated)
	}
}

// TestMyAuditPagesInTimeOrder: one's own events, paged a few at a time,
// come newest first by (At, ID), each once, events of equal At in ID
// order, also where the clock stepped back (an event with a larger ID and
// an earlier At); the pages' cursors are of the time order. A cursor
// without At, handed out before the time order, goes on in ID order to
// the end of its listing, each event once; the export is in time order.
func TestMyAuditPagesInTimeOrder(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	u := f.register(t, ada) // its registration at *f.now
	base := *f.now
	// Seconds after base, in the order appended: ties, and a step back.
	for i, sec := range []int{5, 5, 5, 3, 8, 8, 1, 8, 2} {
		e := user.AuditEvent{At: base.Add(time.Duration(sec) * time.Second), Kind: user.AuditLoginFailed, SubjectID: u.ID, Detail: map[string]string{"n": fmt.Sprint(i)}}
		if err := f.stores.Audit.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		*f.now = e.At
	}
	other := user.AuditEvent{At: base.Add(4 * time.Second), Kind: user.AuditLoginFailed, SubjectID: uuid.Must(uuid.NewV7())}
	if err := f.stores.Audit.Append(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	stored, err := f.stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: u.ID})
	if err != nil || len(stored) != 10 {
		t.Fatalf("stored: %d events, %v; want 10", len(stored), err)
	}
	byID := ids(stored)
	byTime := slices.Clone(stored)
	slices.SortFunc(byTime, func(a, b user.AuditEvent) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	if slices.Equal(ids(byTime), byID) {
		t.Fatal("the events are in the same order by time and by id: the test would not tell them apart")
	}
	// pages lists u's events from cur, limit a page, and fails unless each
	// next cursor is of order (time: with At; id: without).
	pages := func(cur user.AuditCursor, limit int, timeOrder bool) []int64 {
		t.Helper()
		var got []int64
		for range 20 {
			p, err := f.svc.MyAudit(t.Context(), u, cur, limit)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(p.Events)...)
			if p.Next.ID == 0 {
				return got
			}
			if p.Next.At.IsZero() == timeOrder {
				t.Fatalf("next cursor %+v from %+v: want one with At %v", p.Next, cur, timeOrder)
			}
			cur = p.Next
		}
		t.Fatal("more than 20 pages")
		return nil
	}
	for _, limit := range []int{1, 2, 3, 4, 10, 100} {
		if diff := cmp.Diff(ids(byTime), pages(user.AuditCursor{}, limit, true)); diff != "" {
			t.Errorf("pages of %d (-want +got):\n%s", limit, diff)
		}
		// A listing begun before the upgrade: its cursor has no At.
		if diff := cmp.Diff(byID[2:], pages(user.AuditCursor{ID: byID[1]}, limit, false)); diff != "" {
			t.Errorf("pages of %d on from an id cursor (-want +got):\n%s", limit, diff)
		}
	}
	x, err := f.svc.Export(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(byTime), ids(collect(t, x.Events))); diff != "" {
		t.Errorf("export events (-want +got):\n%s", diff)
	}
}

// ids are the IDs of events, in order.
func ids(events []user.AuditEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// collect ranges over events, failing t on an error.
func collect[T any](t *testing.T, events iter.Seq2[T, error]) []T {
	t.Helper()
	var all []T
	for e, err := range events {
		if err != nil {
			t.Fatalf("export events: %v", err)
		}
		all = append(all, e)
	}
	return all
}

// pagedAudit is an AuditLog that notes every read: its limit, and how
// many events the export had handed on (seen) when it was asked.
type pagedAudit struct {
	user.AuditLog
	seen  *int
	reads []pageRead
}

type pageRead struct {
	limit    int
	beforeID int64
	seen     int
}

func (p *pagedAudit) Events(ctx context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	p.reads = append(p.reads, pageRead{limit: f.Limit, beforeID: f.BeforeID, seen: *p.seen})
	return p.AuditLog.Events(ctx, f)
}

// TestExportReadsOnePageAtATime: the export of an account with many
// events reads them ExportPage at a time, each page only once the events
// before it are handed on, so that it never holds more than one page;
// every event comes out once, newest first; a store that fails midway
// ends the events with its error.
func TestExportReadsOnePageAtATime(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	u := f.register(t, ada)
	const extra = 2*user.ExportPage + 17
	for i := range extra {
		e := user.AuditEvent{At: *f.now, Kind: user.AuditLoginFailed, SubjectID: u.ID, Detail: map[string]string{"n": fmt.Sprint(i)}}
		if err := f.stores.Audit.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := f.stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: u.ID})
	if err != nil || len(stored) < extra {
		t.Fatalf("stored events: %d, %v", len(stored), err)
	}
	seen := 0
	spy := &pagedAudit{AuditLog: f.stores.Audit, seen: &seen}
	st := f.stores
	st.Audit = spy
	d := f.deps()
	d.Stores = st
	svc := user.NewService(d, user.Policy{})

	x, err := svc.Export(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for e, err := range x.Events {
		if err != nil {
			t.Fatal(err)
		}
		if last != 0 && e.ID >= last {
			t.Fatalf("event %d after %d: want newest first, each once", e.ID, last)
		}
		last = e.ID
		seen++
	}
	if seen != len(stored) {
		t.Errorf("export yielded %d events, want %d", seen, len(stored))
	}
	if len(spy.reads) != 3 {
		t.Fatalf("reads = %+v, want 3 pages", spy.reads)
	}
	for i, r := range spy.reads {
		if r.limit != user.ExportPage || r.seen != i*user.ExportPage || (i > 0) != (r.beforeID > 0) {
			t.Errorf("read %d = %+v; want a page of %d, asked for once the %d events before it were handed on",
				i, r, user.ExportPage, i*user.ExportPage)
		}
	}

	// The store fails after the first page: the events end with its error.
	x, err = svc.Export(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range x.Events {
		if n == user.ExportPage {
			if !errors.Is(err, errDown) {
				t.Errorf("after the first page of a failing store: got %v, want %v", err, errDown)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == user.ExportPage {
			f.mem.SetFail(errDown)
		}
	}
	f.mem.SetFail(nil)
	if n != user.ExportPage {
		t.Errorf("events before the failure: %d, want %d", n, user.ExportPage)
	}
}

func TestAuditCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 123456000, time.UTC)
	for _, c := range []user.AuditCursor{{ID: 1}, {ID: 1 << 40}, {At: at, ID: 7}, {At: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), ID: 9}} {
		got, err := user.ParseAuditCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseAuditCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	if got, err := user.ParseAuditCursor(""); err != nil || got != (user.AuditCursor{}) {
		t.Errorf(`ParseAuditCursor("") = %+v, %v; want none`, got, err)
	}
	for _, bad := range []string{"!", "AAAA", user.AuditCursor{ID: 0}.String(), user.AuditCursor{ID: -1}.String(), user.AuditCursor{At: at, ID: -2}.String(), strings.Repeat("A", 30)} {
		if _, err := user.ParseAuditCursor(bad); !errors.Is(err, user.ErrBadAuditCursor) {
			t.Errorf("ParseAuditCursor(%q): got %v, want ErrBadAuditCursor", bad, err)
		}
	}
}
