package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/webhook"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// replicaDB is what a replica needs of its own connection to the shared
// database.
type replicaDB interface {
	Webhooks() webhook.Stores
	Close() error
}

// twoConnections opens the shared database of kind twice, as two
// replicas would: two PostgreSQL pools on one database, or two handles on
// one SQLite file.
func twoConnections(t testing.TB, kind string) (replicaDB, replicaDB) {
	ctx := context.Background()
	var a, b replicaDB
	switch kind {
	case "postgres":
		url := storetest.PostgresURL(t)
		pa, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		a, b = pa, pb
	case "sqlite":
		path := filepath.Join(t.TempDir(), "usersvc.db")
		sa, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sa.Migrator()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatal(err)
		}
		p.Close()
		sb, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		a, b = sa, sb
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Two replicas on one database, each handed every event (as a queue
// retrying a job could) and each retrying what is due, at the same time:
// every event reaches the receiver exactly once successfully, after the
// one failed first attempt the receiver forces on each.
func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			da, db := twoConnections(t, kind)
			var mu sync.Mutex
			tries, successes := map[string]int{}, map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := r.Header.Get("webhook-id")
				mu.Lock()
				defer mu.Unlock()
				tries[id]++
				if tries[id] == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				successes[id]++
			}))
			defer srv.Close()

			clk := &clock{now: time.Now().UTC()}
			deps := testDeps(t, webhook.Stores{}, clk)
			replica := func(d replicaDB) *webhook.Service {
				deps.Stores = d.Webhooks()
				return webhook.NewService(deps, webhook.Config{AllowPrivate: true})
			}
			a, b := replica(da), replica(db)
			if _, _, err := a.Create(t.Context(), admin, webhook.NewEndpoint{URL: srv.URL, Types: []string{webhook.AllTypes}}); err != nil {
				t.Fatal(err)
			}

			const users, perUser = 5, 4
			var events []webhook.Event
			for range users {
				subject := uuid.New()
				for seq := int64(1); seq <= perUser; seq++ {
					ev := event(catalogue.UserUpdated, seq)
					ev.Subject = subject
					events = append(events, ev)
				}
			}
			both := func(f func(*webhook.Service) error) {
				var wg sync.WaitGroup
				for _, s := range []*webhook.Service{a, b} {
					wg.Go(func() {
						if err := f(s); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
			}
			for _, ev := range events {
				both(func(s *webhook.Service) error { return s.Deliver(t.Context(), ev) })
			}
			for range 30 {
				mu.Lock()
				done := len(successes) == len(events)
				mu.Unlock()
				if done {
					break
				}
				clk.Add(10 * time.Minute) // past every retry wait and lease of a few attempts
				both(func(s *webhook.Service) error { _, err := s.RunDue(t.Context()); return err })
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range events {
				if successes[ev.ID] != 1 {
					t.Errorf("event %s (seq %d) succeeded %d times, want once", ev.ID, ev.Seq, successes[ev.ID])
				}
				if tries[ev.ID] != 2 {
					t.Errorf("event %s was sent %d times, want 2 (the forced failure, then the success)", ev.ID, tries[ev.ID])
				}
			}
		})
	}
}

// sharedStores are the stores of a fresh database of kind, which the
// replicas of a test share.
func sharedStores(t *testing.T, kind string) webhook.Stores {
	if kind == "postgres" {
		return storetest.Postgres(t).Webhooks()
	}
	return storetest.SQLite(t).Webhooks()
}

// twoReplicas are two services on stores at the time clk, as two
// replicas of usersvc.
func twoReplicas(tb testing.TB, stores webhook.Stores, clk *clock) (a, b *webhook.Service) {
	deps := testDeps(tb, stores, clk)
	return webhook.NewService(deps, webhook.Config{AllowPrivate: true}), webhook.NewService(deps, webhook.Config{AllowPrivate: true})
}

// Deliver makes the first attempt of each endpoint's delivery one after
// another, all created under one claim of claimLease (2 min). When the
// earlier endpoints each take the client's whole timeout (15 s), Deliver
// renews a delivery's claim before sending it, so that another replica's
// RunDue does not take (and send again) the one being sent; a delivery
// whose claim has run out before its turn is left to the replica that
// took it. Each endpoint gets the event once.
func TestDeliverRenewsEachClaimBeforeItsSend(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{now: time.Now().UTC()}
			a, b := twoReplicas(t, sharedStores(t, kind), clk)
			const endpoints, slow = 9, 15 * time.Second
			var hits [endpoints]atomic.Int32
			for i := range endpoints {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					n := hits[i].Add(1)
					clk.Add(slow) // as long as the client's timeout allows
					if i == 7 && n == 1 {
						// Meanwhile, the other replica's poll comes round,
						// with endpoint 8's creation claim just run out.
						if _, err := b.RunDue(context.Background()); err != nil {
							t.Errorf("replica b RunDue: %v", err)
						}
					}
					w.WriteHeader(http.StatusNoContent)
				}))
				t.Cleanup(srv.Close)
				if _, _, err := a.Create(t.Context(), admin, webhook.NewEndpoint{URL: srv.URL, Types: []string{webhook.AllTypes}}); err != nil {
					t.Fatal(err)
				}
				clk.Add(time.Second) // creation order is listing order
			}
			if err := a.Deliver(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
				t.Errorf("replica a Deliver: %v", err)
			}
			for i := range endpoints {
				if n := hits[i].Load(); n != 1 {
					t.Errorf("endpoint %d received the event %d times, want once", i, n)
				}
			}
		})
	}
}

// A replay of a delivery that a replica's RunDue is sending right now is
// refused (ErrDeliveryInProgress, a 409): otherwise both would send it at
// once, number their attempts alike, and one of the two saves would be
// lost (here RunDue's success) and the delivery sent again.
func TestReplayOfADeliveryBeingAttemptedIsRefused(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{now: time.Now().UTC()}
			a, b := twoReplicas(t, sharedStores(t, kind), clk)
			var hits atomic.Int32
			inFlight, release := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				switch hits.Add(1) {
				case 1:
					w.WriteHeader(http.StatusServiceUnavailable) // the first attempt fails
				case 2:
					close(inFlight) // RunDue's retry: held open while the replay is asked for
					<-release
					w.WriteHeader(http.StatusNoContent)
				default:
					w.WriteHeader(http.StatusInternalServerError)
				}
			}))
			t.Cleanup(srv.Close)
			e, _, err := a.Create(t.Context(), admin, webhook.NewEndpoint{URL: srv.URL, Types: []string{webhook.AllTypes}})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Deliver(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
				t.Fatal(err)
			}
			clk.Add(5 * time.Minute)
			done := make(chan error, 1)
			go func() { _, err := b.RunDue(context.Background()); done <- err }()
			<-inFlight
			ds, _ := a.Deliveries(t.Context(), admin, e.ID, 1)
			if _, err := a.Replay(t.Context(), admin, e.ID, ds[0].ID); !errors.Is(err, webhook.ErrDeliveryInProgress) {
				t.Errorf("Replay during RunDue's attempt = %v, want ErrDeliveryInProgress", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Errorf("RunDue: %v", err)
			}
			ds, _ = a.Deliveries(t.Context(), admin, e.ID, 1)
			if ds[0].State != webhook.Succeeded || len(ds[0].Attempts) != 2 || hits.Load() != 2 {
				t.Errorf("delivery %s with %d attempts, sent %d times; want succeeded (RunDue's attempt) with 2 attempts, sent twice",
					ds[0].State, len(ds[0].Attempts), hits.Load())
			}
		})
	}
}
