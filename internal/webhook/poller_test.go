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
// waits until release is closed or its context ends, as a receiver
// holding its requests open would.
type stubSender struct {
	hang    string
	release chan struct{}
	sent    chan string
}

func newStubSender(hang string) *stubSender {
	return &stubSender{hang: hang, release: make(chan struct{}), sent: make(chan string, 256)}
}

func (s *stubSender) Send(ctx context.Context, rawURL, _ string, _ time.Time, _ []byte, _ ...webhook.Secret) webhook.Result {
	s.sent <- rawURL
	if rawURL == s.hang {
		select {
		case <-s.release:
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

// An endpoint whose receiver holds its requests open delays no other
// endpoint's retries: endpoint B's retry, due while A's is still hanging,
// is sent at the poller's next tick. The poller used to wait for its
// whole batch (A's hanging attempt, up to the client's 15 s timeout)
// before it claimed again, so every other endpoint's retries waited with
// it, and with a few such receivers the retries of all stalled.
func TestRetryPollerDoesNotWaitForAHangingReceiver(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{now: time.Now().UTC()}
			const hanging, quick = "http://a.example/hook", "http://b.example/hook"
			sender := newStubSender(hanging)
			deps := testDeps(t, sharedStores(t, kind), clk)
			deps.Sender = sender
			svc := webhook.NewService(deps, webhook.Config{AllowPrivate: true})
			for _, ep := range []webhook.NewEndpoint{
				{URL: hanging, Types: []string{catalogue.UserCreated}},
				{URL: quick, Types: []string{catalogue.UserUpdated}},
			} {
				if _, _, err := svc.Create(t.Context(), admin, ep); err != nil {
					t.Fatal(err)
				}
			}

			ctx, stop := context.WithCancel(t.Context())
			ticks, stopped := make(chan time.Time), make(chan struct{})
			go func() {
				defer close(stopped)
				svc.Run(ctx, ticks, func(err error) { t.Errorf("Run reported %v", err) })
			}()
			tick := func(why string) {
				t.Helper()
				select {
				case ticks <- clk.Now():
				case <-time.After(10 * time.Second):
					t.Fatalf("the poller took no tick within 10 s: %s", why)
				}
			}
			var once sync.Once
			end := func() { once.Do(func() { stop(); <-stopped }) }
			t.Cleanup(end)

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
			tick("the first")
			sender.expect(t, hanging, "A's due delivery at the first tick")

			clk.Add(webhook.DefaultTimeout) // B's is due now, A's receiver still holds its request
			tick("B's retry is due while A's receiver hangs")
			sender.expect(t, quick, "B's due delivery at the next tick, while A's receiver still hangs")

			end() // Run ends its attempt under way, and waits for it
			select {
			case url := <-sender.sent:
				t.Errorf("a send to %s after Run returned", url)
			default:
			}
		})
	}
}
