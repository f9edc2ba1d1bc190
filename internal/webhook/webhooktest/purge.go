package webhooktest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/webhook"
)

// purgeFinished checks PurgeFinished and CountFinished: the deliveries
// that succeeded or failed and last changed before the cutoff go, with
// their attempts, in batches of the limit; recent finished ones, pending
// ones however old, and every delivery's attempts but the removed ones'
// stay.
func purgeFinished(t *testing.T, o open) {
	s := o(t)
	ctx := t.Context()
	e := create(t, s, NewEndpoint(1))
	cutoff := base.Add(30 * 24 * time.Hour)
	type row struct {
		state    string
		changed  time.Time
		attempts int
		goes     bool
	}
	rows := []row{
		{webhook.Succeeded, cutoff.Add(-time.Hour), 1, true},
		{webhook.Failed, cutoff.Add(-24 * time.Hour), 3, true},
		{webhook.Succeeded, cutoff.Add(-time.Microsecond), 2, true},
		{webhook.Succeeded, cutoff, 1, false},                    // changed at the cutoff: not before it
		{webhook.Failed, cutoff.Add(time.Hour), 1, false},        // recent
		{webhook.Pending, cutoff.Add(-24 * time.Hour), 2, false}, // pending, however old
		{webhook.Pending, base, 0, false},
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		d := NewDelivery(e.ID, i, base.Add(time.Minute))
		deliver(t, s, d)
		tried(t, s, d, r.attempts, r.state, r.changed)
		ids[i] = d.ID
	}
	if n, err := s.Deliveries.CountFinished(ctx, cutoff); err != nil || n != 3 {
		t.Errorf("CountFinished = %d, %v; want 3", n, err)
	}
	if gone, attempts := purgeInBatches(t, s, cutoff, 2); gone != 3 || attempts != 6 {
		t.Errorf("PurgeFinished removed %d deliveries and %d attempts, want 3 and 6", gone, attempts)
	}
	for i, r := range rows {
		_, err := s.Deliveries.Delivery(ctx, ids[i])
		switch {
		case r.goes && !errors.Is(err, webhook.ErrDeliveryNotFound):
			t.Errorf("delivery %d (%s, changed %s): still there (err %v), want removed", i, r.state, r.changed, err)
		case !r.goes && err != nil:
			t.Errorf("delivery %d (%s, changed %s): %v, want kept", i, r.state, r.changed, err)
		case !r.goes:
			if as, err := s.Deliveries.Attempts(ctx, ids[i]); err != nil || len(as) != r.attempts {
				t.Errorf("delivery %d kept with %d attempts (%v), want %d", i, len(as), err, r.attempts)
			}
		}
	}
	if n, err := s.Deliveries.CountFinished(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("CountFinished after = %d, %v; want 0", n, err)
	}
}

// tried saves attempts failed attempts of d, each changing it at changed,
// the last leaving it in state.
func tried(t *testing.T, s webhook.Stores, d webhook.Delivery, attempts int, state string, changed time.Time) {
	t.Helper()
	for n := 1; n <= attempts; n++ {
		d.Attempts, d.UpdatedAt = n, changed
		d.State = webhook.Pending
		if n == attempts {
			d.State = state
		}
		a := &webhook.Attempt{DeliveryID: d.ID, N: n, At: changed, Status: 500, Error: "status 500"}
		if err := s.Deliveries.SaveDelivery(t.Context(), d, webhook.Fence{}, a); err != nil {
			t.Fatal(err)
		}
	}
}

// purgeInBatches runs PurgeFinished with limit until a batch removes fewer
// than limit, checking that none removes more, and returns the deliveries
// and attempts removed in all.
func purgeInBatches(t *testing.T, s webhook.Stores, cutoff time.Time, limit int) (gone, attempts int64) {
	t.Helper()
	for batch := 0; ; batch++ {
		d, a, err := s.Deliveries.PurgeFinished(t.Context(), cutoff, limit)
		if err != nil {
			t.Fatal(err)
		}
		if d > int64(limit) {
			t.Fatalf("PurgeFinished with limit %d removed %d deliveries", limit, d)
		}
		gone, attempts = gone+d, attempts+a
		if d < int64(limit) {
			return gone, attempts
		}
		if batch > 5 {
			t.Fatal("PurgeFinished keeps removing")
		}
	}
}
