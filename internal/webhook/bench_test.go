package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/webhook"
	"github.com/usersvc/usersvc/internal/webhook/webhooktest"
)

// benchBacklog is USERSVC_BENCH_WEBHOOK_BACKLOG, the backlog's size,
// 10000 when unset.
func benchBacklog() int {
	if v, err := strconv.Atoi(os.Getenv("USERSVC_BENCH_WEBHOOK_BACKLOG")); err == nil && v > 0 {
		return v
	}
	return 10000
}

// BenchmarkDrainBacklog drains a backlog of events (USERSVC_BENCH_WEBHOOK_BACKLOG,
// default 10000: 100 users, in sequence each) to a receiver on loopback
// answering 204, through one replica's RunDue, and reports deliveries/s.
// docs/benchmarks.md records the figures; run with -benchtime=1x:
//
//	go test ./internal/webhook -run '^$' -bench DrainBacklog -benchtime=1x
func BenchmarkDrainBacklog(b *testing.B) {
	backlog := benchBacklog()
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			db, _ := twoConnections(b, kind)
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			clk := &clock{now: time.Now().UTC()}
			svc := webhook.NewService(testDeps(b, db.Webhooks(), clk), webhook.Config{AllowPrivate: true})
			ctx := context.Background()
			if _, _, err := svc.Create(ctx, admin, webhook.NewEndpoint{URL: srv.URL, Types: []string{webhook.AllTypes}}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				users := make([]uuid.UUID, 100)
				for i := range users {
					users[i] = uuid.New()
				}
				for i := range backlog {
					ev := event(catalogue.UserUpdated, int64(i/len(users)+1))
					ev.Subject = users[i%len(users)]
					if _, err := svc.Enqueue(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
				clk.Add(time.Hour) // every delivery due
				got.Store(0)
				b.StartTimer()
				start := time.Now()
				for got.Load() < int64(backlog) {
					if _, err := svc.RunDue(ctx); err != nil {
						b.Fatal(err)
					}
					clk.Add(time.Second) // past the deliveries held for an earlier one of their user
				}
				b.ReportMetric(float64(backlog)/time.Since(start).Seconds(), "deliveries/s")
			}
		})
	}
}

// BenchmarkDeliverToIdleEndpoint is the time from handing an event to
// Deliver to its arrival at an idle receiver on loopback (the first
// attempt is made at once), reported as the median and the 99th
// percentile over b.N events.
func BenchmarkDeliverToIdleEndpoint(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			db, _ := twoConnections(b, kind)
			arrived := make(chan time.Time, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				arrived <- time.Now()
			}))
			defer srv.Close()
			svc := webhook.NewService(testDeps(b, db.Webhooks(), nil), webhook.Config{AllowPrivate: true})
			ctx := context.Background()
			if _, _, err := svc.Create(ctx, admin, webhook.NewEndpoint{URL: srv.URL, Types: []string{catalogue.UserCreated}}); err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := svc.Deliver(ctx, event(catalogue.UserCreated, 1)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, (<-arrived).Sub(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkClaimPastABacklog is the poller's claim at each tick while an
// endpoint has its share of the workers (fillOthers): the oldest due
// deliveries of the other endpoints, past the due backlog of the one
// excepted (USERSVC_BENCH_WEBHOOK_BACKLOG, default 10000), which the
// claim reads its way through. Each op claims one other endpoint's
// delivery. docs/benchmarks.md records the figures:
//
//	USERSVC_BENCH_WEBHOOK_BACKLOG=100000 go test ./internal/webhook -run '^$' -bench ClaimPastABacklog
func BenchmarkClaimPastABacklog(b *testing.B) {
	backlog := benchBacklog()
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			db, _ := twoConnections(b, kind)
			s := db.Webhooks()
			ctx := context.Background()
			hog, other := webhooktest.NewEndpoint(1), webhooktest.NewEndpoint(2)
			for _, e := range []webhook.Endpoint{hog, other} {
				if err := s.Endpoints.CreateEndpoint(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			const chunk = 1000
			for n := 0; n < backlog; n += chunk {
				ds := make([]webhook.Delivery, 0, chunk)
				for i := n; i < min(n+chunk, backlog); i++ {
					ds = append(ds, webhooktest.NewDelivery(hog.ID, i, now.Add(-time.Hour)))
				}
				if _, err := s.Deliveries.CreateDeliveries(ctx, ds); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := s.Deliveries.CreateDeliveries(ctx, []webhook.Delivery{webhooktest.NewDelivery(other.ID, -1, now)}); err != nil {
				b.Fatal(err)
			}
			limits := webhook.ClaimLimits{Max: webhook.DefaultWorkers / 2, Except: []uuid.UUID{hog.ID}}
			for b.Loop() {
				got, err := s.Deliveries.ClaimDue(ctx, now, time.Minute, limits)
				if err != nil || len(got) != 1 {
					b.Fatalf("ClaimDue = %d deliveries, %v; want the other endpoint's one", len(got), err)
				}
				now = now.Add(time.Minute) // its claim lapses: due again
			}
		})
	}
}
