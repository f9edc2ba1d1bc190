package webhook_test

import (
	"context"
	"sync"
	"testing"
	"time"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
)

// stubSender is a webhook.Sender that sends nothing: each send is
// announced on sent (its URL) and answered 204, but a send to hang first
// waits until one is sent a value (one such send ends), or its context
// ends, as a receiver holding its requests open would.
type stubSender struct {
	hang string
	one  chan struct{}
	sent chan string
}

func newStubSender(hang string) *stubSender {
	return &stubSender{hang: hang, one: make(chan struct{}), sent: make(chan string, 256)}
}

func (s *stubSender) Send(ctx context.Context, rawURL, _ string, _ time.Time, _ []byte, _ ...webhook.Secret) webhook.Result {
	s.sent <- rawURL
	if rawURL == s.hang {
		select {
		case <-s.one:
		case <-ctx.Done():
			return webhook.Result{Err: ctx.Err().Error()}
		}
	}
	return webhook.Result{Status: 204}
}

// expect waits for the next send, which must go to url.
func (s *stubSender) expect(t *testing.T, url, why string) {
	t.Helper()
	select {
	case got := <-s.sent:
		if got != url {
			t.Fatalf("a send went to %s, want %s (%s)", got, url, why)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing sent to %s within 10 s: %s", url, why)
	}
}

// pollerFixture is a service with two endpoints, A (hanging, for
// user.created) and B (quick, for user.updated), whose deliveries go to
// a stubSender, and its Run, fed ticks by tick, ended at the test's end.
type pollerFixture struct {
	svc    *webhook.Service
	clk    *clock
	sender *stubSender
	ticks  chan time.Time
	end    func() // ends Run and waits for it
}

const hanging, quick = "http://a.example/hook", "http://b.example/hook"

func newPollerFixture(t *testing.T, kind string) *pollerFixture {
	t.Helper()
	f := &pollerFixture{clk: &clock{now: time.Now().UTC()}, sender: newStubSender(hanging), ticks: make(chan time.Time)}
	deps := testDeps(t, sharedStores(t, kind), f.clk)
	deps.Sender = f.sender
	f.svc = webhook.NewService(deps, webhook.Config{AllowPrivate: true})
	for _, ep := range []webhook.NewEndpoint{
		{URL: hanging, Types: []string{catalogue.UserCreated}},
		{URL: quick, Types: []string{catalogue.UserUpdated}},
	} {
		if _, _, err := f.svc.Create(t.Context(), admin, ep); err != nil {
			t.Fatal(err)
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f.svc.Run(ctx, f.ticks, func(err error) { t.Errorf("Run reported %v", err) })
	}()
	var once sync.Once
	f.end = func() { once.Do(func() { stop(); <-stopped }) }
	t.Cleanup(f.end)
	return f
}

// enqueue hands over n events for endpoint A (user.created) or B
// (user.updated), each about another user.
func (f *pollerFixture) enqueue(t *testing.T, typ string, n int) {
	t.Helper()
	for range n {
		if _, err := f.svc.Enqueue(t.Context(), event(typ, 1)); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *pollerFixture) tick(t *testing.T, why string) {
	t.Helper()
	select {
	case f.ticks <- f.clk.Now():
	case <-time.After(10 * time.Second):
		t.Fatalf("the poller took no tick within 10 s: %s", why)
	}
}

// sentToA counts the sends to A until one goes to B, and fails when none
// does within 10 s.
func (f *pollerFixture) sentToA(t *testing.T, why string) int {
	t.Helper()
	toA := 0
	for {
		select {
		case url := <-f.sender.sent:
			if url == quick {
				return toA
			}
			toA++
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing sent to B within 10 s, %d sent to A meanwhile: %s", toA, why)
		}
	}
}

// An endpoint whose receiver holds its requests open delays no other
// endpoint's retries: endpoint B's retry, due while A's is still hanging,
// is sent at the poller's next tick. The poller used to wait for its
// whole batch (A's hanging attempt, up to the client's 15 s timeout)
// before it claimed again, so every other endpoint's retries waited with
// it, and with a few such receivers the retries of all stalled.
func TestRetryPollerDoesNotWaitForAHangingReceiver(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := newPollerFixture(t, kind)
			// Each is due for the poller once its creation's claim (2
			// minutes) lapses: A's first, B's the client's timeout later.
			f.enqueue(t, catalogue.UserCreated, 1)
			f.clk.Add(webhook.DefaultTimeout)
			f.enqueue(t, catalogue.UserUpdated, 1)
			f.clk.Add(2*time.Minute - webhook.DefaultTimeout + time.Second)
			f.tick(t, "the first")
			f.sender.expect(t, hanging, "A's due delivery at the first tick")

			f.clk.Add(webhook.DefaultTimeout) // B's is due now, A's receiver still holds its request
			f.tick(t, "B's retry is due while A's receiver hangs")
			f.sender.expect(t, quick, "B's due delivery at the next tick, while A's receiver still hangs")

			f.end() // Run ends its attempt under way, and waits for it
			select {
			case url := <-f.sender.sent:
				t.Errorf("a send to %s after Run returned", url)
			default:
			}
		})
	}
}

// An endpoint whose receiver holds its requests open, with more due
// retries than the poller has workers, leaves the other endpoints their
// share of them: endpoint B's retry, due after twenty of A's, is sent
// while A's requests hang. The poller started the oldest due deliveries
// whatever their endpoint, so A's twenty took all sixteen workers and B's
// waited until A's requests timed out (15 s each).
func TestHangingEndpointTakesOnlyItsShareOfTheWorkers(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := newPollerFixture(t, kind)
			f.enqueue(t, catalogue.UserCreated, webhook.DefaultWorkers+4)
			f.clk.Add(time.Second)
			f.enqueue(t, catalogue.UserUpdated, 1)
			f.clk.Add(2 * time.Minute) // every creation's claim has lapsed: all due, A's first
			f.tick(t, "all due")
			f.sentToA(t, "B's due with A's, A's hanging")
		})
	}
}

// An endpoint whose receiver hangs, with a backlog of due retries larger
// than a claim, has every worker while no other endpoint's delivery is
// due, and yet holds back another endpoint's retry that falls due
// meanwhile for one of its attempts only: B's is claimed at the next tick
// and sent as soon as one of A's attempts ends. The poller claimed the
// oldest due first and only when fewer than its workers' count waited, so
// B's retry waited until A's whole backlog had been tried, a timeout
// (15 s) for every sixteen of A's deliveries.
func TestHangingEndpointsBacklogDoesNotHoldBackAnothersRetry(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			f := newPollerFixture(t, kind)
			f.enqueue(t, catalogue.UserCreated, 60) // more than one claim takes
			f.clk.Add(2*time.Minute + time.Second)
			f.tick(t, "A's backlog due")
			for range webhook.DefaultWorkers {
				f.sender.expect(t, hanging, "A's backlog alone has every worker")
			}
			f.enqueue(t, catalogue.UserUpdated, 1)
			f.clk.Add(2 * time.Minute)
			f.tick(t, "B's due behind A's backlog")
			f.sender.one <- struct{}{} // one of A's attempts ends
			if toA := f.sentToA(t, "B's retry claimed at the tick, at the first free worker"); toA > 0 {
				t.Errorf("%d of A's attempts started before B's, want none", toA)
			}
		})
	}
}
