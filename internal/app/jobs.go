package app

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/natssink"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// JobQueue is what the App uses of the job queue of either database: run
// it, and show and retry its jobs (the admin API).
type JobQueue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	user.JobQueue
	Backlogs(ctx context.Context) ([]jobs.Backlog, error)
}

// openQueue builds the durable job queue in the database and makes the
// stores queue mail and events through it: mail goes to mailer, events to
// the NATS sink (when configured) and to sinks. It starts working the
// queues at once and stops at Close (within the shutdown grace: a job cut
// off runs again at the next start). The in-memory store has no queue:
// its mail goes to mailer after each change, and events nowhere. now is
// the service's clock, which says when a queued mail's link has expired.
func (a *App) openQueue(ctx context.Context, sealer *signing.Sealer, mailer user.Notifier, extra map[string]jobs.Sink, now func() time.Time) error {
	sinks, err := a.eventSinks(ctx, extra)
	if err != nil {
		return err
	}
	c := jobs.Config{
		Mailer: mailer, Sealer: sealer, Sinks: sinks, Log: a.log, Observer: a.metrics,
		PollInterval: a.cfg.JobsPollInterval,
		// A send may take USERSVC_SMTP_TIMEOUT to connect and as long again.
		JobTimeout: 2*a.cfg.SMTPTimeout + 30*time.Second,
		Now:        now,
		Accounts:   a.db.Stores().Users,
	}
	var q JobQueue
	switch db := a.db.(type) {
	case *postgres.DB:
		pq, err := jobs.NewPostgres(db.Pool(), c)
		if err != nil {
			return err
		}
		db.UseOutbox(pq.Outbox)
		q = pq
	case *sqlite.DB:
		sq, err := jobs.NewSQLite(db.Writer(), c)
		if err != nil {
			return err
		}
		db.UseOutbox(sq.Outbox)
		q = sq
	default:
		return nil
	}
	// The queue outlives New's ctx (a request's, a test's): Close stops it.
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	a.queue = q
	a.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			a.log.Error("stop the job queue", "error", err.Error())
			return
		}
		a.log.Info("job queue stopped")
	})
	a.metrics.WatchQueues(func(ctx context.Context) ([]metrics.QueueStat, error) {
		bs, err := q.Backlogs(ctx)
		stats := make([]metrics.QueueStat, 0, len(bs))
		for _, b := range bs {
			stats = append(stats, metrics.QueueStat{Queue: b.Queue, Depth: b.Depth, OldestAge: b.OldestAge})
		}
		return stats, err
	})
	return nil
}

// jobAdmin is the queue as the service administers it, nil without one.
func (a *App) jobAdmin() user.JobQueue {
	if a.queue == nil {
		return nil
	}
	return a.queue
}

// eventSinks are the sinks the queue's event jobs hand each event to:
// extra (tests'), the webhooks (which record a delivery per subscribed
// endpoint, attempt it in the background and retry it themselves) and
// the NATS sink when configured.
func (a *App) eventSinks(ctx context.Context, extra map[string]jobs.Sink) (map[string]jobs.Sink, error) {
	sinks := maps.Clone(extra)
	if sinks == nil {
		sinks = map[string]jobs.Sink{}
	}
	if a.hookSink != nil {
		sinks[SinkWebhooks] = a.hookSink
	}
	if a.cfg.EventsNATSURL != "" {
		s, err := natssink.Open(ctx, natssink.Config{URL: a.cfg.EventsNATSURL, Stream: a.cfg.EventsNATSStream})
		if err != nil {
			return nil, fmt.Errorf("USERSVC_EVENTS_NATS_URL=%s: %w", config.Redact(a.cfg.EventsNATSURL), err)
		}
		a.onClose(s.Close)
		sinks[SinkNATS] = s
	}
	return sinks, nil
}

// The sinks' names in the event jobs.
const (
	SinkNATS     = "nats"
	SinkWebhooks = "webhooks"
)

// Jobs is the job queue, nil on the in-memory store (the admin API and
// tests list and retry jobs through it).
func (a *App) Jobs() JobQueue { return a.queue }
