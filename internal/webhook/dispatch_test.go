package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
)

// The job queue's sink returns once the deliveries are stored: a receiver
// that holds its requests open gets MaxPerEndpoint of them at once, the
// others wait their turn in its lane, and meanwhile every event reaches
// the quick endpoint.
func TestDispatcherDoesNotWaitForASlowReceiver(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	release, arrived := make(chan struct{}), make(chan struct{}, 16)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(slow.Close)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before slow.Close, which waits for its handlers
	got := make(chan struct{}, 16)
	quick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(quick.Close)
	f.create(t, slow.URL, webhook.AllTypes)
	f.create(t, quick.URL, webhook.AllTypes)

	p := f.svc.Dispatcher(t.Context())
	const events = webhook.MaxPerEndpoint + 2
	for i := range events {
		if err := p.Deliver(t.Context(), event(catalogue.UserCreated, int64(i+1))); err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
	}
	deadline := time.After(10 * time.Second)
	for i := range events + webhook.MaxPerEndpoint {
		select {
		case <-got:
		case <-arrived:
		case <-deadline:
			t.Fatalf("%d of %d events reached the quick endpoint and %d the slow one", i, events, webhook.MaxPerEndpoint)
		}
	}
	select {
	case <-arrived:
		t.Fatalf("the slow receiver got more than %d requests at once", webhook.MaxPerEndpoint)
	default:
	}
	free()
	p.Wait()
	if n := len(arrived); n != events-webhook.MaxPerEndpoint {
		t.Errorf("the slow receiver got %d more events once it answered, want %d", n, events-webhook.MaxPerEndpoint)
	}
	if n, err := f.svc.RunDue(t.Context()); err != nil || n != 0 {
		t.Errorf("RunDue = %d, %v; want nothing left to it", n, err)
	}
}

// What an endpoint's lane has no room for is due at once for RunDue,
// neither lost nor left until its creation's claim lapses.
func TestDispatcherLeavesWhatItHasNoRoomForToRunDue(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	release := make(chan struct{})
	var hits atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(slow.Close)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	e, _ := f.create(t, slow.URL, webhook.AllTypes)
	p := f.svc.Dispatcher(t.Context())
	const events = webhook.MaxPerEndpoint + webhook.MaxWaitingPerEndpoint + 1
	for i := range events {
		if err := p.Deliver(t.Context(), event(catalogue.UserCreated, int64(i+1))); err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
	}
	recs, err := f.svc.Deliveries(t.Context(), admin, e.ID, webhook.MaxDeliveriesPage)
	if err != nil {
		t.Fatal(err)
	}
	due := 0
	for _, r := range recs {
		if r.State == webhook.Pending && !r.NextAt.After(f.clock.Now()) {
			due++
		}
	}
	if due != 1 {
		t.Errorf("%d of the newest %d deliveries are due for RunDue, want the one beyond the lane", due, len(recs))
	}
	free()
	p.Wait()
	if n, err := f.svc.RunDue(t.Context()); err != nil || n != 1 {
		t.Errorf("RunDue = %d, %v; want the 1 delivery left to it", n, err)
	}
	if n := hits.Load(); n != events {
		t.Errorf("the receiver got %d events, want %d", n, events)
	}
}

// An attempt under way when the service stops (its context ends) is
// finished and recorded, as the job queue let a running job finish within
// the shutdown grace: cut off, it would be sent again after the restart.
func TestDispatcherFinishesTheAttemptUnderWayWhenStopped(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	started, proceed := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-proceed
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	e, _ := f.create(t, srv.URL, webhook.AllTypes)
	ctx, stop := context.WithCancel(t.Context())
	p := f.svc.Dispatcher(ctx)
	if err := p.Deliver(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
		t.Fatal(err)
	}
	<-started
	stop()
	close(proceed)
	p.Wait()
	recs, err := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d deliveries, want 1", len(recs))
	}
	if recs[0].State != webhook.Succeeded {
		t.Errorf("the delivery is %s, attempts %+v; want succeeded", recs[0].State, recs[0].Attempts)
	}
}
