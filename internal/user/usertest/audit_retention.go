package usertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// auditAt appends one event of each of ats, in that order, and returns
// them as stored.
func auditAt(t *testing.T, st user.Stores, ats ...time.Time) []user.AuditEvent {
	t.Helper()
	for _, at := range ats {
		appendAudit(t, st.Audit, NewAuditEvent(user.AuditLoginSucceeded, uuid.Nil, uuid.Nil, at))
	}
	return auditEvents(t, st.Audit, user.AuditFilter{})
}

// countBefore is Retention.CountBefore or stops the test.
func countBefore(t *testing.T, r user.AuditRetention, before time.Time) int64 {
	t.Helper()
	n, err := r.CountBefore(t.Context(), before)
	if err != nil {
		t.Fatalf("CountBefore(%s): got error %v, want nil", before, err)
	}
	return n
}

// testAuditPruneBefore: the events strictly older than the date go, the
// rest (one at the date itself included) stay, and the counts agree.
func testAuditPruneBefore(t *testing.T, open newStores) {
	st := open(t)
	t0 := now().Add(-72 * time.Hour)
	auditAt(t, st, t0, t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	cut := t0.Add(2 * time.Hour)
	if n := countBefore(t, st.Retention, cut); n != 2 {
		t.Errorf("CountBefore(third event's time) = %d, want 2", n)
	}
	if n := countBefore(t, st.Retention, t0); n != 0 {
		t.Errorf("CountBefore(first event's time) = %d, want 0 (strictly older only)", n)
	}
	n, err := st.Retention.PruneBefore(t.Context(), cut)
	if err != nil || n != 2 {
		t.Fatalf("PruneBefore = %d, %v; want 2, nil", n, err)
	}
	left := auditEvents(t, st.Audit, user.AuditFilter{})
	if len(left) != 2 || !left[0].At.Equal(t0.Add(3*time.Hour)) || !left[1].At.Equal(cut) {
		t.Errorf("after PruneBefore the events are %v, want the two at and after the date", left)
	}
	if n := countBefore(t, st.Retention, cut); n != 0 {
		t.Errorf("CountBefore after pruning = %d, want 0", n)
	}
	if n, err := st.Retention.PruneBefore(t.Context(), cut); err != nil || n != 0 {
		t.Errorf("PruneBefore again = %d, %v; want 0, nil", n, err)
	}
}

// testAuditPruneInTransaction: a prune inside a transaction that fails is
// undone with it; one that commits goes together with what else the
// transaction appended.
func testAuditPruneInTransaction(t *testing.T, open newStores) {
	st := open(t)
	t0 := now().Add(-time.Hour)
	auditAt(t, st, t0, t0.Add(time.Minute))
	boom := errors.New("boom")
	err := st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if n, err := tx.Retention.PruneBefore(t.Context(), now()); err != nil || n != 2 {
			t.Errorf("PruneBefore in a transaction = %d, %v; want 2, nil", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomic = %v, want %v", err, boom)
	}
	if got := auditEvents(t, st.Audit, user.AuditFilter{}); len(got) != 2 {
		t.Errorf("after a failed transaction %d events are left, want both back", len(got))
	}
	record := NewAuditEvent(user.AuditPruned, uuid.Nil, uuid.Nil, now())
	err = st.Tx.Atomic(t.Context(), func(tx user.Stores) error {
		if _, err := tx.Retention.PruneBefore(t.Context(), record.At); err != nil {
			return err
		}
		return tx.Audit.Append(t.Context(), record)
	})
	if err != nil {
		t.Fatalf("Atomic(prune, append): %v", err)
	}
	got := auditEvents(t, st.Audit, user.AuditFilter{})
	if len(got) != 1 || got[0].Kind != user.AuditPruned {
		t.Errorf("after prune and append in one transaction: %v, want only the %s event", got, user.AuditPruned)
	}
}

// testAuditIDsGrowAfterPrune: an event appended after a prune gets an ID
// above every earlier one, pruned ones included, so that a listing's
// cursor never meets a reused ID.
func testAuditIDsGrowAfterPrune(t *testing.T, open newStores) {
	st := open(t)
	t0 := now().Add(-time.Hour)
	before := auditAt(t, st, t0, t0.Add(time.Second))
	if _, err := st.Retention.PruneBefore(t.Context(), now()); err != nil {
		t.Fatalf("PruneBefore: %v", err)
	}
	after := auditAt(t, st, now())
	if len(after) != 1 || after[0].ID <= before[0].ID {
		t.Errorf("after pruning every event, the next one got ID %d, want above the pruned %d", after[0].ID, before[0].ID)
	}
}
