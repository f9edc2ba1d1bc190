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
		for n := 1; n <= r.attempts; n++ {
			d.Attempts, d.UpdatedAt = n, r.changed
			d.State = webhook.Pending
			if n == r.attempts {
				d.State = r.state
			}
			a := &webhook.Attempt{DeliveryID: d.ID, N: n, At: r.changed, Status: 500, Error: "status 500"}
			if err := s.Deliveries.SaveDelivery(ctx, d, a); err != nil {
				t.Fatal(err)
			}
		}
		ids[i] = d.ID
	}
	if n, err := s.Deliveries.CountFinished(ctx, cutoff); err != nil || n != 3 {
		t.Errorf("CountFinished = %d, %v; want 3", n, err)
	}
	var gone, tried int64
	for batch := 0; ; batch++ {
		d, a, err := s.Deliveries.PurgeFinished(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if d > 2 {
			t.Fatalf("PurgeFinished with limit 2 removed %d deliveries", d)
		}
		gone, tried = gone+d, tried+a
		if d < 2 {
			break
		}
		if batch > 5 {
			t.Fatal("PurgeFinished keeps removing")
		}
	}
	if gone != 3 || tried != 6 {
		t.Errorf("PurgeFinished removed %d deliveries and %d attempts, want 3 and 6", gone, tried)
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
