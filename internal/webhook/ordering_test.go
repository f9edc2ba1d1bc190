package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
)

// interleaved is a Deliveries store that runs between, once, after it has
// answered a PendingBefore and before that answer is returned: the moment
// another replica's or worker's attempt can finish the earlier delivery.
type interleaved struct {
	webhook.Deliveries
	between func()
}

func (s *interleaved) PendingBefore(ctx context.Context, endpoint, subject uuid.UUID, seq int64) (time.Time, error) {
	at, err := s.Deliveries.PendingBefore(ctx, endpoint, subject, seq)
	if f := s.between; f != nil {
		s.between = nil
		f()
	}
	return at, err
}

// A user's second event is attempted while the first is being sent by
// another worker; the first finishes after the second has seen it pending
// and before the second is recorded as held. The second must still go as
// soon as the first is done, not when the first one's claim would have
// lapsed (two minutes later): the bench of issue 20 saw events arrive
// minutes late this way.
func TestHeldDeliveryIsNotLeftWaitingWhenItsBlockerEndsMeanwhile(t *testing.T) {
	var store *interleaved
	f := newFixtureOver(t, webhook.Config{AllowPrivate: true}, func() float64 { return 0.5 }, func(s *webhook.Stores) {
		store = &interleaved{Deliveries: s.Deliveries}
		s.Deliveries = store
	})
	svc, clk := f.svc, f.clock
	r := newReceiver(t)
	if _, _, err := svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: r.srv.URL, Types: []string{webhook.AllTypes}}); err != nil {
		t.Fatal(err)
	}

	subject := uuid.New()
	var ds []webhook.Delivery
	for seq := int64(1); seq <= 2; seq++ {
		ev := event(catalogue.UserUpdated, seq)
		ev.Subject = subject
		got, err := svc.Enqueue(t.Context(), ev)
		if err != nil || len(got) != 1 {
			t.Fatalf("Enqueue(seq %d) = %v, %v", seq, got, err)
		}
		ds = append(ds, got[0])
	}
	store.between = func() {
		if d, err := svc.Attempt(t.Context(), ds[0].ID); err != nil || d.State != webhook.Succeeded {
			t.Fatalf("the first delivery: %+v, %v", d, err)
		}
	}
	if _, err := svc.Attempt(t.Context(), ds[1].ID); err != nil {
		t.Fatal(err)
	}
	// The pollers' next look, a few seconds on.
	clk.Add(5 * time.Second)
	if _, err := svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(r.received()); got != 2 {
		d, _ := store.Delivery(t.Context(), ds[1].ID)
		t.Errorf("5 s after the first event was delivered the receiver has %d messages, want 2; the second is %s, due %s later",
			got, d.State, d.NextAt.Sub(clk.Now()))
	}
}
