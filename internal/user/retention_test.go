package user_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestPruneAudit: the events older than the date go and the removal is
// recorded (who, how, the date, how many) as the one event about it; a
// dry run only counts; a future or missing date is refused with nothing
// removed.
func TestPruneAudit(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	now := *f.now
	for _, at := range []time.Time{now.AddDate(-2, 0, 0), now.AddDate(-1, 0, -1), now.AddDate(0, -1, 0)} {
		if err := f.stores.Audit.Append(t.Context(), usertest.NewAuditEvent(user.AuditLoginSucceeded, uuid.Nil, uuid.Nil, at)); err != nil {
			t.Fatal(err)
		}
	}
	before := now.AddDate(-1, 0, 0)
	for _, tt := range []struct {
		name   string
		before time.Time
		field  string
	}{
		{"future", now.Add(time.Second), "before"},
		{"missing", time.Time{}, "before"},
	} {
		_, err := f.svc.PruneAudit(t.Context(), user.AuditPrune{Before: tt.before, Operator: "ops"})
		if v, ok := errors.AsType[*user.ValidationError](err); !ok || v.Field != tt.field {
			t.Errorf("PruneAudit(%s date) = %v, want a ValidationError of %q", tt.name, err, tt.field)
		}
	}
	n, err := f.svc.PruneAudit(t.Context(), user.AuditPrune{Before: before, Operator: "ops", DryRun: true})
	if err != nil || n != 2 {
		t.Errorf("PruneAudit(dry run) = %d, %v; want 2, nil", n, err)
	}
	if got := len(f.events(t)); got != 3 {
		t.Fatalf("after the refusals and the dry run %d events are stored, want the 3 appended", got)
	}
	n, err = f.svc.PruneAudit(t.Context(), user.AuditPrune{Before: before, Operator: "ops", Via: "usersvc audit prune"})
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want 2, nil", n, err)
	}
	events := f.events(t)
	if len(events) != 2 || !events[0].At.Equal(now.AddDate(0, -1, 0)) {
		t.Fatalf("after pruning: %v, want the month-old event and the record of the prune", events)
	}
	want := user.AuditEvent{
		At: now, Kind: user.AuditPruned, UserAgent: "usersvc audit prune",
		Detail: map[string]string{"before": "2025-11-23T18:00:00Z", "events": "2", "operator": "ops"},
	}
	if diff := cmp.Diff(want, events[1], cmpopts.IgnoreFields(user.AuditEvent{}, "ID")); diff != "" {
		t.Errorf("the prune's own event (-want +got):\n%s", diff)
	}
}

// TestPruneAuditFailureKeepsEverything: when the prune's own event cannot
// be stored, no event is removed.
func TestPruneAuditFailureKeepsEverything(t *testing.T) {
	f := newAuditFixture(t, user.Policy{})
	if err := f.stores.Audit.Append(t.Context(), usertest.NewAuditEvent(user.AuditLoginSucceeded, uuid.Nil, uuid.Nil, f.now.AddDate(-2, 0, 0))); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk full")
	d := f.deps()
	d.Now = func() time.Time { return *f.now }
	d.Stores = usertest.Wrap(f.stores, func(st user.Stores) user.Stores {
		st.Audit = failingAppend{st.Audit, broken}
		return st
	})
	svc := user.NewService(d, user.Policy{})
	if _, err := svc.PruneAudit(t.Context(), user.AuditPrune{Before: f.now.AddDate(-1, 0, 0), Operator: "ops"}); err == nil {
		t.Fatal("PruneAudit with its event refused: got nil, want an error")
	}
	if got := len(f.events(t)); got != 1 {
		t.Errorf("after a failed prune %d events are stored, want the 1 appended", got)
	}
}

// failingAppend is an AuditLog whose Append fails.
type failingAppend struct {
	user.AuditLog
	err error
}

func (f failingAppend) Append(context.Context, user.AuditEvent) error { return f.err }
