package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/webhook"
	"github.com/usersvc/usersvc/internal/webhook/webhooktest"
)

// TestDeliveriesRetention: with Policy.Deliveries, a run removes the
// finished webhook deliveries last changed before now minus it, in
// batches, with their attempts; a recent finished one and an old pending
// one stay; the dry run counts the same and removes nothing; without the
// policy (0) or without the purger nothing goes. The stores' own rules
// are webhooktest's PurgeFinished, run on SQLite and PostgreSQL.
func TestDeliveriesRetention(t *testing.T) {
	ctx := t.Context()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	setUp := func(t *testing.T) (*webhooktest.Memory, map[string]webhook.Delivery) {
		t.Helper()
		hooks := webhooktest.NewMemory()
		s := hooks.Stores()
		e := webhooktest.NewEndpoint(1)
		if err := s.Endpoints.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		ds := map[string]webhook.Delivery{}
		for i, c := range []struct {
			name, state string
			changed     time.Time
		}{
			{"old succeeded", webhook.Succeeded, t0.Add(-31 * day)},
			{"old failed", webhook.Failed, t0.Add(-40 * day)},
			{"recent succeeded", webhook.Succeeded, t0.Add(-29 * day)},
			{"old pending", webhook.Pending, t0.Add(-40 * day)},
		} {
			d := webhooktest.NewDelivery(e.ID, i, t0)
			if _, err := s.Deliveries.CreateDeliveries(ctx, []webhook.Delivery{d}); err != nil {
				t.Fatal(err)
			}
			d.State, d.Attempts, d.UpdatedAt = c.state, 1, c.changed
			if err := s.Deliveries.SaveDelivery(ctx, d, webhook.Fence{}, &webhook.Attempt{DeliveryID: d.ID, N: 1, At: c.changed}); err != nil {
				t.Fatal(err)
			}
			ds[c.name] = d
		}
		return hooks, ds
	}
	kept := func(t *testing.T, hooks *webhooktest.Memory, ds map[string]webhook.Delivery, want map[string]bool) {
		t.Helper()
		for name, d := range ds {
			_, err := hooks.Stores().Deliveries.Delivery(ctx, d.ID)
			if got := err == nil; got != want[name] {
				t.Errorf("%s: kept = %v (%v), want %v", name, got, err, want[name])
			} else if err != nil && !errors.Is(err, webhook.ErrDeliveryNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	all := map[string]bool{"old succeeded": true, "old failed": true, "recent succeeded": true, "old pending": true}
	policy := retention.Policy{Sessions: 30 * day, Deliveries: 30 * day, Batch: 1}

	t.Run("run", func(t *testing.T) {
		hooks, ds := setUp(t)
		obs := &observed{removed: map[string]int64{}, oldest: map[string]time.Duration{}}
		r := retention.New(retention.Deps{
			Store: usertest.NewMemory().Purge(), Deliveries: hooks.Stores().Deliveries, Observer: obs, Now: func() time.Time { return t0 },
		}, policy)
		dry, err := r.DryRun(ctx)
		if err != nil || dry[retention.WebhookDeliveries] != 2 {
			t.Errorf("DryRun = %v, %v; want 2 webhook deliveries", dry, err)
		}
		kept(t, hooks, ds, all)
		removed, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if removed[retention.WebhookDeliveries] != 2 || removed[retention.WebhookAttempts] != 2 {
			t.Errorf("Run removed %v, want 2 webhook deliveries and 2 attempts", removed)
		}
		if obs.removed[retention.WebhookDeliveries] != 2 {
			t.Errorf("observed %v, want 2 webhook deliveries removed", obs.removed)
		}
		kept(t, hooks, ds, map[string]bool{"recent succeeded": true, "old pending": true})
	})
	t.Run("kept when the policy is 0", func(t *testing.T) {
		hooks, ds := setUp(t)
		p := policy
		p.Deliveries = 0
		r := retention.New(retention.Deps{Store: usertest.NewMemory().Purge(), Deliveries: hooks.Stores().Deliveries, Now: func() time.Time { return t0 }}, p)
		if removed, err := r.Run(ctx); err != nil || removed[retention.WebhookDeliveries] != 0 {
			t.Errorf("Run = %v, %v; want nothing removed", removed, err)
		}
		kept(t, hooks, ds, all)
	})
}
