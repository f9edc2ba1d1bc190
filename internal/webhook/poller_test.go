package webhook_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
)

// stubSender is a webhook.Sender that sends nothing: each send is
// announced on sent (its URL and webhook-id) and answered 204, but the
// sends to hang first wait until release is closed, as a receiver holding
// its requests open would.
type stubSender struct {
	hang    string
	release chan struct{}
	sent    chan sent

	mu    sync.Mutex
	sends map[string]int // webhook-id: how many sends
}

type sent struct{ url, id string }

func newStubSender(hang string) *stubSender {
	return &stubSender{hang: hang, release: make(chan struct{}), sent: make(chan sent, 256), sends: map[string]int{}}
}

func (s *stubSender) Send(_ context.Context, rawURL, id string, _ time.Time, _ []byte, _ ...webhook.Secret) webhook.Result {
	s.mu.Lock()
	s.sends[id]++
	s.mu.Unlock()
	s.sent <- sent{rawURL, id}
	if rawURL == s.hang {
		<-s.release
	}
	return webhook.Result{Status: 204}
}

// count is how many times the event id was sent.
func (s *stubSender) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sends[id]
}

// expect waits for the next send, which must go to url.
func (s *stubSender) expect(t *testing.T, url, why string) {
	t.Helper()
	select {
	case got := <-s.sent:
		if got.url != url {
			t.Fatalf("a send went to %s, want %s (%s)", got.url, url, why)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing sent to %s within 10 s: %s", url, why)
	}
}

// An endpoint whose receiver holds its requests open delays no other
// endpoint's retries: endpoint B's retry, due while A's is still hanging,
// is sent at the poller's next tick. The poller used to wait for its
// whole batch (A's hanging attempt, up to the client's 15 s timeout)
// before it claimed again, so every other endpoint's retries waited with
// it, and with several such receivers the retries stalled. The attempt
// under way when the poller stops is finished and recorded.
func TestRetryPollerDoesNotWaitForAHangingReceiver(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{now: time.Now().UTC()}
			const hanging, quick = "http://a.example/hook", "http://b.example/hook"
			sender := newStubSender(hanging)
			var once sync.Once
			free := func() { once.Do(func() { close(sender.release) }) }
			t.Cleanup(free)
			deps := testDeps(t, sharedStores(t, kind), clk)
			deps.Sender = sender
			svc := webhook.NewService(deps, webhook.Config{AllowPrivate: true})
			a, _, err := svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: hanging, Types: []string{catalogue.UserCreated}})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: quick, Types: []string{catalogue.UserUpdated}}); err != nil {
				t.Fatal(err)
			}

			ctx, stop := context.WithCancel(t.Context())
			ticks, stopped := make(chan time.Time, 1), make(chan struct{})
			go func() {
				defer close(stopped)
				svc.Run(ctx, ticks, func(err error) { t.Errorf("Run reported %v", err) })
			}()
			t.Cleanup(func() { free(); stop(); <-stopped })

			// Each is due for the poller once its creation's claim (2
			// minutes) lapses: A's first, B's the client's timeout later.
			if _, err := svc.Enqueue(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
				t.Fatal(err)
			}
			clk.Add(webhook.DefaultTimeout)
			if _, err := svc.Enqueue(t.Context(), event(catalogue.UserUpdated, 1)); err != nil {
				t.Fatal(err)
			}
			clk.Add(2*time.Minute - webhook.DefaultTimeout + time.Second)
			ticks <- clk.Now()
			sender.expect(t, hanging, "A's due delivery at the first tick")

			clk.Add(webhook.DefaultTimeout) // B's is due now, A's receiver still holds its request
			ticks <- clk.Now()
			sender.expect(t, quick, "B's due delivery at the next tick, while A's receiver still hangs")

			stop() // the service stops with A's attempt under way
			free()
			<-stopped
			recs, err := svc.Deliveries(t.Context(), admin, a.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].State != webhook.Succeeded || len(recs[0].Attempts) != 1 {
				t.Errorf("A's delivery after the stop: %+v; want succeeded, its attempt recorded", recs)
			}
		})
	}
}

// lateClaims are Deliveries whose first claim that takes anything comes
// back late, by the clock moving on by late: the time between a
// replica's claim and its lane's attempts (a slow database, a busy lane).
type lateClaims struct {
	webhook.Deliveries
	clk  *clock
	late time.Duration
	once sync.Once
}

func (s *lateClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int, skip []uuid.UUID) ([]webhook.Delivery, error) {
	ds, err := s.Deliveries.ClaimDue(ctx, now, lease, limit, skip)
	if len(ds) > 0 {
		s.once.Do(func() { s.clk.Add(s.late) })
	}
	return ds, err
}

// A retry is never sent twice, also when another poller claims again
// while a replica's lane still holds it: replica a claims an endpoint's
// due retries, its receiver holds the first MaxPerEndpoint requests open
// and the others wait in a's lane until their claims lapse; replica b
// then claims and sends those (not the ones under way at a, whose claims
// were renewed as they started), and a's poller, ticking meanwhile,
// claims nothing of them. When a's receiver answers, a sends none of
// those b took: each event reaches the endpoint once.
func TestRetryWaitingInALaneIsNotSentTwice(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{now: time.Now().UTC()}
			const url = "http://hooks.example/usersvc"
			stores := sharedStores(t, kind)
			sa, sb := newStubSender(url), newStubSender("")
			var once sync.Once
			free := func() { once.Do(func() { close(sa.release) }) }
			t.Cleanup(free)
			deps := testDeps(t, stores, clk)
			deps.Sender = sb
			b := webhook.NewService(deps, webhook.Config{AllowPrivate: true})
			deps.Sender = sa
			deps.Stores.Deliveries = &lateClaims{Deliveries: stores.Deliveries, clk: clk, late: time.Minute + time.Second}
			a := webhook.NewService(deps, webhook.Config{AllowPrivate: true})
			if _, _, err := a.Create(t.Context(), admin, webhook.NewEndpoint{URL: url, Types: []string{webhook.AllTypes}}); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for range webhook.RetryRoom {
				ev := event(catalogue.UserCreated, 1)
				if _, err := a.Enqueue(t.Context(), ev); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ev.ID)
			}
			clk.Add(3 * time.Minute) // past their creation's claims: all due

			ctx, stop := context.WithCancel(t.Context())
			p := a.Dispatcher(ctx)
			ticks, stopped := make(chan time.Time), make(chan struct{})
			go func() {
				defer close(stopped)
				p.Run(ticks, func(err error) { t.Errorf("replica a: %v", err) })
			}()
			t.Cleanup(func() { free(); stop(); <-stopped })
			tick := func(why string) {
				t.Helper()
				select {
				case ticks <- clk.Now():
				case <-time.After(10 * time.Second):
					t.Fatalf("replica a's poller took no tick for 10 s: %s", why)
				}
			}
			tick("the first")
			for range webhook.MaxPerEndpoint {
				sa.expect(t, url, "replica a's first attempts")
			}
			clk.Add(time.Minute) // the claims of those still waiting in a's lane lapse
			if _, err := b.RunDue(t.Context()); err != nil {
				t.Fatalf("replica b RunDue: %v", err)
			}
			tick("a second, with its attempts under way and waiting")
			tick("a third: the second's claims are done")
			free()
			p.Wait() // a's lane attempts what it holds
			stop()
			<-stopped
			for _, id := range ids {
				if n := sa.count(id) + sb.count(id); n != 1 {
					t.Errorf("event %s was sent %d times (replica a %d, b %d), want once", id, n, sa.count(id), sb.count(id))
				}
			}
		})
	}
}

// failingSaves are Deliveries whose saves fail, as a database gone away
// would.
type failingSaves struct {
	webhook.Deliveries
	err error
}

func (s failingSaves) SaveDelivery(context.Context, webhook.Delivery, webhook.Fence, *webhook.Attempt) error {
	return s.err
}

// The poller reports an attempt it could not record to onError, also now
// that attempts end in the lanes, after the claim that started them.
func TestRetryPollerReportsAnAttemptItCouldNotRecord(t *testing.T) {
	boom := errors.New("database gone")
	f := newFixtureOver(t, webhook.Config{AllowPrivate: true}, func() float64 { return 0.5 }, func(s *webhook.Stores) {
		s.Deliveries = failingSaves{Deliveries: s.Deliveries, err: boom}
	})
	r := newReceiver(t)
	f.create(t, r.srv.URL, webhook.AllTypes)
	if _, err := f.svc.Enqueue(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3 * time.Minute) // past its creation's claim: due
	ctx, stop := context.WithCancel(t.Context())
	reported, stopped := make(chan error, 16), make(chan struct{})
	ticks := make(chan time.Time, 1)
	go func() {
		defer close(stopped)
		f.svc.Run(ctx, ticks, func(err error) { reported <- err })
	}()
	defer func() { stop(); <-stopped }()
	ticks <- f.clock.Now()
	select {
	case err := <-reported:
		if !errors.Is(err, boom) {
			t.Errorf("onError got %v, want the storage's %v", err, boom)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing reported within 10 s; the receiver got %d messages", len(r.received()))
	}
}
