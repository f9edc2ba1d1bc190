// Package webhooktest is the conformance suite every implementation of
// the webhook package's store ports must pass, plus Memory, an in-memory
// database whose stores pass it.
package webhooktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
)

// base is the time the suite's rows are made at: microseconds, as the
// stores keep them.
var base = time.Date(2026, 12, 5, 10, 0, 0, 123456000, time.UTC)

// NewEndpoint returns a valid endpoint numbered n, not yet stored, created
// n seconds after base.
func NewEndpoint(n int) webhook.Endpoint {
	at := base.Add(time.Duration(n) * time.Second)
	return webhook.Endpoint{
		ID: uuid.Must(uuid.NewV7()), URL: fmt.Sprintf("https://hooks%d.example.com/usersvc", n),
		Description: fmt.Sprintf("endpoint %d", n), Types: []string{catalogue.UserCreated, catalogue.UserDeleted},
		Secret: []byte(fmt.Sprintf("sealed-secret-%d", n)), Enabled: true, CreatedAt: at, UpdatedAt: at,
	}
}

// NewDelivery returns a pending delivery of event n to endpoint, due at
// next, not yet stored.
func NewDelivery(endpoint uuid.UUID, n int, next time.Time) webhook.Delivery {
	return webhook.Delivery{
		ID: uuid.Must(uuid.NewV7()), EndpointID: endpoint, EventID: fmt.Sprintf("evt_%d", n),
		EventType: catalogue.UserCreated, Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), State: webhook.Pending,
		NextAt: next, CreatedAt: base, UpdatedAt: base,
	}
}

type open func(t *testing.T) webhook.Stores

// Run checks that the stores open returns follow every rule of the ports,
// in two groups: Endpoints and Deliveries. open must return the stores of
// a fresh, empty, migrated database each time, released in t.Cleanup.
func Run(t *testing.T, o func(t *testing.T) webhook.Stores) {
	for _, group := range []struct {
		name  string
		tests map[string]func(*testing.T, open)
	}{
		{"Endpoints", endpointTests},
		{"Deliveries", deliveryTests},
	} {
		t.Run(group.name, func(t *testing.T) {
			for name, test := range group.tests {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					test(t, o)
				})
			}
		})
	}
}

var opts = cmp.Options{cmpopts.EquateEmpty()}

func create(t *testing.T, s webhook.Stores, e webhook.Endpoint) webhook.Endpoint {
	t.Helper()
	if err := s.Endpoints.CreateEndpoint(t.Context(), e); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return e
}

func deliver(t *testing.T, s webhook.Stores, ds ...webhook.Delivery) {
	t.Helper()
	got, err := s.Deliveries.CreateDeliveries(t.Context(), ds)
	if err != nil {
		t.Fatalf("CreateDeliveries: %v", err)
	}
	if len(got) != len(ds) {
		t.Fatalf("CreateDeliveries stored %d of %d new deliveries", len(got), len(ds))
	}
}

var endpointTests = map[string]func(*testing.T, open){
	"RoundTrip": func(t *testing.T, o open) {
		s := o(t)
		e := NewEndpoint(1)
		e.PreviousSecret, e.PreviousUntil = []byte("older"), base.Add(24*time.Hour)
		e.FailingSince = base.Add(time.Minute)
		e.Types = []string{webhook.AllTypes}
		create(t, s, e)
		got, err := s.Endpoints.Endpoint(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(e, got, opts); d != "" {
			t.Errorf("Endpoint differs from what was created (-want +got):\n%s", d)
		}
	},
	"NotFound": func(t *testing.T, o open) {
		s := o(t)
		ctx, id := t.Context(), uuid.New()
		if _, err := s.Endpoints.Endpoint(ctx, id); !errors.Is(err, webhook.ErrEndpointNotFound) {
			t.Errorf("Endpoint: err = %v, want ErrEndpointNotFound", err)
		}
		if err := s.Endpoints.SaveEndpoint(ctx, NewEndpoint(1), base); !errors.Is(err, webhook.ErrEndpointNotFound) {
			t.Errorf("SaveEndpoint: err = %v, want ErrEndpointNotFound", err)
		}
		if err := s.Endpoints.DeleteEndpoint(ctx, id); !errors.Is(err, webhook.ErrEndpointNotFound) {
			t.Errorf("DeleteEndpoint: err = %v, want ErrEndpointNotFound", err)
		}
		if _, err := s.Endpoints.SetFailing(ctx, id, base); !errors.Is(err, webhook.ErrEndpointNotFound) {
			t.Errorf("SetFailing: err = %v, want ErrEndpointNotFound", err)
		}
	},
	"ListOldestFirst": func(t *testing.T, o open) {
		s := o(t)
		var want []webhook.Endpoint
		for _, n := range []int{3, 1, 2} {
			create(t, s, NewEndpoint(n))
		}
		got, err := s.Endpoints.ListEndpoints(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, got...)
		if len(got) != 3 || !got[0].CreatedAt.Before(got[1].CreatedAt) || !got[1].CreatedAt.Before(got[2].CreatedAt) {
			t.Errorf("ListEndpoints = %d endpoints, not oldest first: %v", len(got), want)
		}
	},
	"SaveReplaces": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		was := e.UpdatedAt
		e.URL, e.Description, e.Types, e.Enabled = "http://other.example/x", "", []string{catalogue.SessionCreated}, false
		e.Secret, e.PreviousSecret, e.PreviousUntil = []byte("new"), []byte("old"), base.Add(time.Hour)
		e.FailingSince, e.UpdatedAt = base.Add(2*time.Hour), base.Add(3*time.Hour)
		want := e
		e.CreatedAt = base.Add(99 * time.Hour) // never changed by a save
		if err := s.Endpoints.SaveEndpoint(t.Context(), e, was); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Endpoints.Endpoint(t.Context(), e.ID)
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Errorf("after SaveEndpoint (-want +got):\n%s", d)
		}
		// And back to no previous secret, no failure.
		e.PreviousSecret, e.PreviousUntil, e.FailingSince = nil, time.Time{}, time.Time{}
		if err := s.Endpoints.SaveEndpoint(t.Context(), e, e.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Endpoints.Endpoint(t.Context(), e.ID)
		if got.PreviousSecret != nil || !got.PreviousUntil.IsZero() || !got.FailingSince.IsZero() {
			t.Errorf("cleared fields came back: %+v", got)
		}
	},
	"SaveFencedByUpdatedAt": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		rotated := e
		rotated.Secret, rotated.UpdatedAt = []byte("rotated"), e.UpdatedAt.Add(time.Second)
		if err := s.Endpoints.SaveEndpoint(t.Context(), rotated, e.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		stale := e // read before the rotation
		stale.Description, stale.UpdatedAt = "changed", e.UpdatedAt.Add(2*time.Second)
		if err := s.Endpoints.SaveEndpoint(t.Context(), stale, e.UpdatedAt); !errors.Is(err, webhook.ErrEndpointChanged) {
			t.Errorf("SaveEndpoint as read before another save: err = %v, want ErrEndpointChanged", err)
		}
		got, _ := s.Endpoints.Endpoint(t.Context(), e.ID)
		if string(got.Secret) != "rotated" || got.Description == "changed" {
			t.Errorf("after a refused save: secret %q, description %q; want the rotation kept, nothing else", got.Secret, got.Description)
		}
	},
	"DeleteTakesDeliveries": func(t *testing.T, o open) {
		s := o(t)
		e, other := create(t, s, NewEndpoint(1)), create(t, s, NewEndpoint(2))
		d, kept := NewDelivery(e.ID, 1, base), NewDelivery(other.ID, 1, base)
		deliver(t, s, d, kept)
		if err := s.Deliveries.SaveDelivery(t.Context(), d, webhook.Fence{}, &webhook.Attempt{DeliveryID: d.ID, N: 1, At: base}); err != nil {
			t.Fatal(err)
		}
		if err := s.Endpoints.DeleteEndpoint(t.Context(), e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Endpoints.Endpoint(t.Context(), e.ID); !errors.Is(err, webhook.ErrEndpointNotFound) {
			t.Errorf("deleted endpoint: err = %v", err)
		}
		if _, err := s.Deliveries.Delivery(t.Context(), d.ID); !errors.Is(err, webhook.ErrDeliveryNotFound) {
			t.Errorf("delivery of a deleted endpoint: err = %v, want ErrDeliveryNotFound", err)
		}
		if _, err := s.Deliveries.Delivery(t.Context(), kept.ID); err != nil {
			t.Errorf("another endpoint's delivery: %v", err)
		}
	},
	"DisableChangesOnlyTheFlag": func(t *testing.T, o open) {
		s := o(t)
		ctx := t.Context()
		e := create(t, s, NewEndpoint(1))
		first, at := base.Add(time.Minute), base.Add(2*time.Hour)
		if off, err := s.Endpoints.Disable(ctx, e.ID, first, at); off || err != nil {
			t.Errorf("Disable of an endpoint not failing = %v, %v, want false", off, err)
		}
		failing, err := s.Endpoints.SetFailing(ctx, e.ID, first)
		if err != nil {
			t.Fatal(err)
		}
		failing.Secret = []byte("rotated meanwhile") // an administrator's change
		if err := s.Endpoints.SaveEndpoint(ctx, failing, failing.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		if off, err := s.Endpoints.Disable(ctx, e.ID, base, at); off || err != nil {
			t.Errorf("Disable with another first failure = %v, %v, want false", off, err)
		}
		if off, err := s.Endpoints.Disable(ctx, e.ID, first, at); !off || err != nil {
			t.Errorf("Disable = %v, %v, want true", off, err)
		}
		want := failing
		want.Enabled, want.UpdatedAt = false, at
		got, _ := s.Endpoints.Endpoint(ctx, e.ID)
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Errorf("after Disable (-want +got):\n%s", d)
		}
		if off, err := s.Endpoints.Disable(ctx, e.ID, first, at); off || err != nil {
			t.Errorf("Disable of a disabled endpoint = %v, %v, want false", off, err)
		}
		if off, err := s.Endpoints.Disable(ctx, uuid.New(), first, at); off || err != nil {
			t.Errorf("Disable of an unknown endpoint = %v, %v, want false", off, err)
		}
	},
	"SetFailingKeepsTheFirstFailure": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		first, later := base.Add(time.Minute), base.Add(time.Hour)
		for _, at := range []time.Time{first, later} {
			got, err := s.Endpoints.SetFailing(t.Context(), e.ID, at)
			if err != nil {
				t.Fatal(err)
			}
			if !got.FailingSince.Equal(first) {
				t.Errorf("SetFailing(%s): FailingSince = %s, want the first failure %s", at, got.FailingSince, first)
			}
		}
		got, err := s.Endpoints.SetFailing(t.Context(), e.ID, time.Time{})
		if err != nil || !got.FailingSince.IsZero() {
			t.Errorf("SetFailing(zero) = %s, %v, want cleared", got.FailingSince, err)
		}
		stored, _ := s.Endpoints.Endpoint(t.Context(), e.ID)
		if !stored.FailingSince.IsZero() {
			t.Errorf("stored FailingSince = %s, want zero", stored.FailingSince)
		}
		if _, err := s.Endpoints.SetFailing(t.Context(), e.ID, later); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second finds nothing to clear
			if err := s.Endpoints.ClearFailing(t.Context(), e.ID); err != nil {
				t.Fatal(err)
			}
		}
		if stored, _ := s.Endpoints.Endpoint(t.Context(), e.ID); !stored.FailingSince.IsZero() {
			t.Errorf("after ClearFailing FailingSince = %s, want zero", stored.FailingSince)
		}
		if err := s.Endpoints.ClearFailing(t.Context(), uuid.New()); err != nil {
			t.Errorf("ClearFailing of an unknown endpoint = %v, want nil", err)
		}
	},
}

var deliveryTests = map[string]func(*testing.T, open){
	"PurgeFinished":       purgeFinished,
	"SaveUnderALostClaim": saveUnderALostClaim,
	"RoundTrip": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		d := NewDelivery(e.ID, 1, base.Add(time.Second))
		d.Subject, d.Seq = uuid.New(), 42
		deliver(t, s, d)
		got, err := s.Deliveries.Delivery(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got, opts); diff != "" {
			t.Errorf("Delivery (-want +got):\n%s", diff)
		}
	},
	"NotFound": func(t *testing.T, o open) {
		s := o(t)
		id := uuid.New()
		if _, err := s.Deliveries.Delivery(t.Context(), id); !errors.Is(err, webhook.ErrDeliveryNotFound) {
			t.Errorf("Delivery: err = %v", err)
		}
		if err := s.Deliveries.SaveDelivery(t.Context(), webhook.Delivery{ID: id, State: webhook.Failed}, webhook.Fence{}, nil); !errors.Is(err, webhook.ErrDeliveryNotFound) {
			t.Errorf("SaveDelivery: err = %v", err)
		}
		if _, err := s.Deliveries.Attempts(t.Context(), id); !errors.Is(err, webhook.ErrDeliveryNotFound) {
			t.Errorf("Attempts: err = %v", err)
		}
	},
	"OneDeliveryPerEndpointAndEvent": func(t *testing.T, o open) {
		s := o(t)
		a, b := create(t, s, NewEndpoint(1)), create(t, s, NewEndpoint(2))
		first := NewDelivery(a.ID, 7, base)
		deliver(t, s, first, NewDelivery(b.ID, 7, base))
		again := NewDelivery(a.ID, 7, base)
		fresh := NewDelivery(a.ID, 8, base)
		got, err := s.Deliveries.CreateDeliveries(t.Context(), []webhook.Delivery{again, fresh})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != fresh.ID {
			t.Errorf("CreateDeliveries of a repeated and a new event stored %v, want only the new one", got)
		}
		list, _ := s.Deliveries.ListDeliveries(t.Context(), a.ID, 10)
		if len(list) != 2 {
			t.Errorf("endpoint has %d deliveries, want 2", len(list))
		}
	},
	"ListNewestFirst": func(t *testing.T, o open) {
		s := o(t)
		e, other := create(t, s, NewEndpoint(1)), create(t, s, NewEndpoint(2))
		var ids []uuid.UUID
		for n := range 5 {
			d := NewDelivery(e.ID, n, base)
			deliver(t, s, d)
			ids = append(ids, d.ID)
		}
		deliver(t, s, NewDelivery(other.ID, 1, base))
		got, err := s.Deliveries.ListDeliveries(t.Context(), e.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []uuid.UUID
		for _, d := range got {
			gotIDs = append(gotIDs, d.ID)
		}
		if want := []uuid.UUID{ids[4], ids[3], ids[2]}; !cmp.Equal(want, gotIDs) {
			t.Errorf("ListDeliveries = %v, want the 3 newest %v", gotIDs, want)
		}
	},
	"SaveWithAttempts": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		d := NewDelivery(e.ID, 1, base)
		deliver(t, s, d)
		a1 := webhook.Attempt{DeliveryID: d.ID, N: 1, At: base.Add(time.Second), Status: 500, Error: "status 500", Duration: 1500 * time.Microsecond}
		d.Attempts, d.NextAt, d.UpdatedAt = 1, base.Add(time.Minute), base.Add(time.Second)
		if err := s.Deliveries.SaveDelivery(t.Context(), d, webhook.Fence{}, &a1); err != nil {
			t.Fatal(err)
		}
		a2 := webhook.Attempt{DeliveryID: d.ID, N: 2, At: base.Add(time.Minute), Status: 204, Duration: time.Millisecond}
		d.Attempts, d.State, d.NextAt, d.UpdatedAt = 2, webhook.Succeeded, time.Time{}, base.Add(time.Minute)
		if err := s.Deliveries.SaveDelivery(t.Context(), d, webhook.Fence{}, &a2); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Deliveries.Delivery(t.Context(), d.ID)
		if diff := cmp.Diff(d, got, opts); diff != "" {
			t.Errorf("Delivery after two saves (-want +got):\n%s", diff)
		}
		as, err := s.Deliveries.Attempts(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]webhook.Attempt{a1, a2}, as, opts); diff != "" {
			t.Errorf("Attempts (-want +got):\n%s", diff)
		}
	},
	"ClaimDue": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		now := base.Add(time.Hour)
		late := NewDelivery(e.ID, 1, now.Add(-time.Minute))
		early := NewDelivery(e.ID, 2, now.Add(-time.Hour))
		exact := NewDelivery(e.ID, 3, now)
		future := NewDelivery(e.ID, 4, now.Add(time.Second))
		done := NewDelivery(e.ID, 5, now.Add(-time.Hour))
		deliver(t, s, late, early, exact, future, done)
		done.State, done.NextAt = webhook.Succeeded, time.Time{}
		if err := s.Deliveries.SaveDelivery(t.Context(), done, webhook.Fence{}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.Deliveries.ClaimDue(t.Context(), now, time.Minute, webhook.ClaimLimits{Max: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != early.ID || got[1].ID != late.ID {
			t.Fatalf("ClaimDue(limit 2) = %v, want the two due longest: %s, %s", ids(got), early.ID, late.ID)
		}
		if !got[0].NextAt.Equal(now.Add(time.Minute)) || !got[0].UpdatedAt.Equal(now) {
			t.Errorf("claimed NextAt = %s, UpdatedAt = %s, want now+lease %s and now", got[0].NextAt, got[0].UpdatedAt, now.Add(time.Minute))
		}
		if stored, _ := s.Deliveries.Delivery(t.Context(), early.ID); !stored.NextAt.Equal(got[0].NextAt) || !stored.UpdatedAt.Equal(now) {
			t.Errorf("stored claim NextAt = %s, UpdatedAt = %s, want %s and %s", stored.NextAt, stored.UpdatedAt, got[0].NextAt, now)
		}
		got, _ = s.Deliveries.ClaimDue(t.Context(), now, time.Minute, webhook.ClaimLimits{Max: 10})
		if len(got) != 1 || got[0].ID != exact.ID {
			t.Errorf("second ClaimDue = %v, want only %s (the others are claimed)", ids(got), exact.ID)
		}
		got, _ = s.Deliveries.ClaimDue(t.Context(), now.Add(2*time.Minute), time.Minute, webhook.ClaimLimits{Max: 10})
		if len(got) != 4 {
			t.Errorf("ClaimDue after the lease = %d deliveries, want 4 (3 expired claims and the future one)", len(got))
		}
	},
	"ClaimDueExcept": func(t *testing.T, o open) {
		s := o(t)
		a, b, c := create(t, s, NewEndpoint(1)), create(t, s, NewEndpoint(2)), create(t, s, NewEndpoint(3))
		now := base.Add(time.Hour)
		var as []webhook.Delivery
		for i := range 5 { // a's five, due before any other
			as = append(as, NewDelivery(a.ID, i, now.Add(-time.Hour+time.Duration(i)*time.Second)))
		}
		b1, b2 := NewDelivery(b.ID, 10, now.Add(-time.Minute)), NewDelivery(b.ID, 11, now.Add(-time.Second))
		c1, c2 := NewDelivery(c.ID, 20, now.Add(-30*time.Second)), NewDelivery(c.ID, 21, now.Add(time.Second))
		deliver(t, s, append(as, b1, b2, c1, c2)...)

		limits := webhook.ClaimLimits{Max: 2, Except: []uuid.UUID{a.ID, uuid.New()}}
		got, err := s.Deliveries.ClaimDue(t.Context(), now, time.Minute, limits)
		if err != nil {
			t.Fatal(err)
		}
		if want := []uuid.UUID{b1.ID, c1.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("ClaimDue(2, not a's) = %v, want the two due longest of b's and c's %v", ids(got), want)
		}
		limits.Except = []uuid.UUID{b.ID}
		if got, _ := s.Deliveries.ClaimDue(t.Context(), now, time.Minute, limits); !slices.Equal(ids(got), ids(as[:2])) {
			t.Errorf("ClaimDue(2, not b's) = %v, want a's two oldest %v", ids(got), ids(as[:2]))
		}
		limits.Except, limits.Max = []uuid.UUID{a.ID, c.ID}, 10
		if got, _ := s.Deliveries.ClaimDue(t.Context(), now, time.Minute, limits); !slices.Equal(ids(got), []uuid.UUID{b2.ID}) {
			t.Errorf("ClaimDue(10, not a's or c's) = %v, want b's last due %s", ids(got), b2.ID)
		}
	},
	"PendingBeforeAndWake": func(t *testing.T, o open) {
		s := o(t)
		e, other := create(t, s, NewEndpoint(1)), create(t, s, NewEndpoint(2))
		ada, bob := uuid.New(), uuid.New()
		mk := func(ep uuid.UUID, n int, subject uuid.UUID, seq int64, next time.Time) webhook.Delivery {
			d := NewDelivery(ep, n, next)
			d.Subject, d.Seq = subject, seq
			return d
		}
		first := mk(e.ID, 1, ada, 1, base.Add(time.Hour))
		second := mk(e.ID, 2, ada, 2, base.Add(2*time.Hour))
		third := mk(e.ID, 3, ada, 3, base.Add(3*time.Hour))
		deliver(t, s, first, second, third,
			mk(e.ID, 4, bob, 1, base.Add(9*time.Hour)),     // another user
			mk(other.ID, 5, ada, 1, base.Add(9*time.Hour)), // another endpoint
		)
		ctx := t.Context()
		for _, tt := range []struct {
			seq  int64
			want time.Time
		}{{1, time.Time{}}, {2, first.NextAt}, {3, second.NextAt}, {9, third.NextAt}} {
			got, err := s.Deliveries.PendingBefore(ctx, e.ID, ada, tt.seq)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("PendingBefore(seq %d) = %s, %v, want %s", tt.seq, got, err, tt.want)
			}
		}
		first.State, first.Attempts, first.NextAt = webhook.Succeeded, 1, time.Time{}
		if err := s.Deliveries.SaveDelivery(ctx, first, webhook.Fence{}, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Deliveries.PendingBefore(ctx, e.ID, ada, 2); !got.IsZero() {
			t.Errorf("PendingBefore after the first succeeded = %s, want zero", got)
		}
		// second and third wait for the first: held.
		for _, d := range []*webhook.Delivery{&second, &third} {
			d.Held = true
			if err := s.Deliveries.SaveDelivery(ctx, *d, webhook.Fence{}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.Deliveries.Delivery(ctx, second.ID); !got.Held {
			t.Error("Held did not round-trip")
		}
		now := base.Add(90 * time.Minute)
		if err := s.Deliveries.Wake(ctx, e.ID, ada, 1, now); err != nil {
			t.Fatal(err)
		}
		for _, d := range []webhook.Delivery{second, third} {
			got, _ := s.Deliveries.Delivery(ctx, d.ID)
			if !got.NextAt.Equal(now) || got.Held {
				t.Errorf("after Wake, %s is due %s (held %v), want %s, not held", d.EventID, got.NextAt, got.Held, now)
			}
		}
		due, _ := s.Deliveries.ClaimDue(ctx, now, time.Minute, webhook.ClaimLimits{Max: 10})
		if len(due) != 2 {
			t.Errorf("after Wake %d deliveries due, want 2 (another user's and endpoint's stay)", len(due))
		}
		// A claimed delivery is not held: Wake leaves its lease alone, so
		// that no second claimer gets it while it is being sent.
		if err := s.Deliveries.Wake(ctx, e.ID, ada, 0, now); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.Deliveries.ClaimDue(ctx, now, time.Minute, webhook.ClaimLimits{Max: 10}); len(again) != 0 {
			t.Errorf("Wake handed %d claimed deliveries to a second claimer", len(again))
		}
	},
	"ConcurrentClaimsAreDisjoint": func(t *testing.T, o open) {
		s := o(t)
		e := create(t, s, NewEndpoint(1))
		const n = 40
		for i := range n {
			deliver(t, s, NewDelivery(e.ID, i, base))
		}
		var mu sync.Mutex
		seen := map[uuid.UUID]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					got, err := s.Deliveries.ClaimDue(context.WithoutCancel(t.Context()), base, time.Hour, webhook.ClaimLimits{Max: 3})
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						seen[d.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("claimed %d distinct deliveries, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("delivery %s claimed %d times", id, c)
			}
		}
	},
}

func ids(ds []webhook.Delivery) []uuid.UUID {
	out := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// saveUnderALostClaim: a save fenced with a claim that another claimer
// has since replaced changes nothing, so that two claimers of one
// delivery never both record an attempt numbered alike.
func saveUnderALostClaim(t *testing.T, o open) {
	s := o(t)
	ctx := t.Context()
	e := create(t, s, NewEndpoint(1))
	d := NewDelivery(e.ID, 1, base)
	deliver(t, s, d)
	mine := d.Fence()
	claimed, err := s.Deliveries.ClaimDue(ctx, base, time.Minute, webhook.ClaimLimits{Max: 1}) // another replica's claim
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimDue = %v, %v", ids(claimed), err)
	}
	late := d
	late.State, late.Attempts, late.NextAt, late.UpdatedAt = webhook.Succeeded, 1, time.Time{}, base.Add(time.Second)
	err = s.Deliveries.SaveDelivery(ctx, late, mine, &webhook.Attempt{DeliveryID: d.ID, N: 1, At: base})
	if !errors.Is(err, webhook.ErrClaimLost) {
		t.Errorf("SaveDelivery under the lost claim: err = %v, want ErrClaimLost", err)
	}
	got, _ := s.Deliveries.Delivery(ctx, d.ID)
	if diff := cmp.Diff(claimed[0], got, opts); diff != "" {
		t.Errorf("the lost claim's save changed the delivery (-want +got):\n%s", diff)
	}
	if as, _ := s.Deliveries.Attempts(ctx, d.ID); len(as) != 0 {
		t.Errorf("the lost claim's save recorded %d attempts, want none", len(as))
	}
	// The current claimer's save goes through; then the delivery is no
	// longer pending, and a save fenced with its claim changes nothing.
	if err := s.Deliveries.SaveDelivery(ctx, late, got.Fence(), &webhook.Attempt{DeliveryID: d.ID, N: 1, At: base}); err != nil {
		t.Fatalf("SaveDelivery under the current claim: %v", err)
	}
	if err := s.Deliveries.SaveDelivery(ctx, d, got.Fence(), nil); !errors.Is(err, webhook.ErrClaimLost) {
		t.Errorf("SaveDelivery of a finished delivery with its old claim: err = %v, want ErrClaimLost", err)
	}
	if err := s.Deliveries.SaveDelivery(ctx, d, late.Fence(), nil); err != nil {
		t.Errorf("SaveDelivery with a finished delivery's own fence: %v", err)
	}
	if err := s.Deliveries.SaveDelivery(ctx, NewDelivery(e.ID, 2, base), mine, nil); !errors.Is(err, webhook.ErrDeliveryNotFound) {
		t.Errorf("SaveDelivery of an unknown delivery: err = %v, want ErrDeliveryNotFound", err)
	}
}
