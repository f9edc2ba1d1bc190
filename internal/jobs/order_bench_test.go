package jobs_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// counter is a Sink that counts the events it gets, each once (as a Sink
// must: it may be handed an event twice), and how often it got one again.
type counter struct {
	seen  sync.Map
	n     atomic.Int64
	again atomic.Int64
}

func (c *counter) Deliver(_ context.Context, e event.Event) error {
	if _, dup := c.seen.LoadOrStore(e.ID, true); dup {
		c.again.Add(1)
	} else {
		c.n.Add(1)
	}
	return nil
}

// BenchmarkDrainEventBacklog measures how fast a backlog of events (users
// × changes, queued while no worker ran) reaches a sink, each user's in
// order: every delivery first looks for its user's earlier events still
// queued (migration 00025 indexes that look; USERSVC_BENCH_DROP_INDEX=on
// drops the index to compare). USERSVC_BENCH_EVENT_USERS sets the users
// (default 200), each with 1 + 9 events.
//
//	go test -run '^$' -bench DrainEventBacklog -benchtime 1x ./internal/jobs/
func BenchmarkDrainEventBacklog(b *testing.B) {
	users := 200
	if v, err := strconv.Atoi(os.Getenv("USERSVC_BENCH_EVENT_USERS")); err == nil && v > 0 {
		users = v
	}
	const changes = 9
	drop := os.Getenv("USERSVC_BENCH_DROP_INDEX") == "on"
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sink := &counter{}
				c := jobs.Config{Mailer: usertest.NewMailbox(), Sealer: sealer(b), PollInterval: 50 * time.Millisecond,
					Sinks: map[string]jobs.Sink{"count": sink}}
				var (
					q interface {
						Start(context.Context) error
						Stop(context.Context) error
					}
					st user.Stores
				)
				if kind == "sqlite" {
					db := storetest.SQLite(b)
					if drop {
						if _, err := db.Writer().Exec(`DROP INDEX river_job_event_subject`); err != nil {
							b.Fatal(err)
						}
					}
					queue, err := jobs.NewSQLite(db.Writer(), c)
					if err != nil {
						b.Fatal(err)
					}
					db.UseOutbox(queue.Outbox)
					q, st = queue, db.Stores()
				} else {
					db := storetest.Postgres(b)
					if drop {
						if _, err := db.Pool().Exec(b.Context(), `DROP INDEX river_job_event_subject`); err != nil {
							b.Fatal(err)
						}
					}
					queue, err := jobs.NewPostgres(db.Pool(), c)
					if err != nil {
						b.Fatal(err)
					}
					db.UseOutbox(queue.Outbox)
					q, st = queue, db.Stores()
				}
				svc := service(b, st)
				for i := range users {
					u, err := svc.Register(b.Context(), user.Registration{
						Email: fmt.Sprintf("u%d@example.com", i), Username: fmt.Sprintf("user%d", i), Password: "correct horse battery"})
					if err != nil {
						b.Fatal(err)
					}
					for j := range changes {
						name := fmt.Sprintf("name %d", j)
						if u, err = svc.Update(b.Context(), user.Caller{User: u}, user.Patch{FullName: &name}, ""); err != nil {
							b.Fatal(err)
						}
					}
				}
				want := int64(users * (1 + changes))
				b.StartTimer()
				start := time.Now()
				if err := q.Start(b.Context()); err != nil {
					b.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Minute)
				for sink.n.Load() < want && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				took := time.Since(start)
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = q.Stop(ctx)
				cancel()
				if got := sink.n.Load(); got != want {
					b.Fatalf("the sink got %d of %d events", got, want)
				}
				b.ReportMetric(float64(want)/took.Seconds(), "events/s")
				b.ReportMetric(float64(sink.again.Load()), "handed-again")
				b.StartTimer()
			}
		})
	}
}
