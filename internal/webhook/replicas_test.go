package webhook_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/signing"
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

			kek := make([]byte, 32)
			_, _ = rand.Read(kek)
			sealer, _ := signing.NewSealer(kek)
			clk := &clock{now: time.Now().UTC()}
			replica := func(d replicaDB) *webhook.Service {
				return webhook.NewService(webhook.Deps{
					Stores: d.Webhooks(), Sealer: sealer, Now: clk.Now,
					Sender: webhook.NewClient(webhook.ClientOptions{AllowPrivate: true}),
				}, webhook.Config{AllowPrivate: true})
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
