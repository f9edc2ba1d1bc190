package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// mail counts account mail by kind and outcome (jobs.Observer).
type mail struct {
	deliveries *prometheus.CounterVec
}

// Outcomes of a mail delivery attempt.
const (
	mailSent    = "sent"
	mailRetried = "retried"
	mailFailed  = "failed"
)

func newMail(reg prometheus.Registerer) *mail {
	m := &mail{deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "usersvc_mail_deliveries_total",
		Help: "Account mail delivery attempts by kind and outcome: sent, retried (failed, to be tried again) or failed (given up: kept as a discarded job, see GET /api/v1/admin/jobs?state=discarded). Alert on failed.",
	}, []string{"kind", "outcome"})}
	reg.MustRegister(m.deliveries)
	return m
}

// MailSent counts a mail of kind delivered.
func (m *Metrics) MailSent(kind string) { m.mail.deliveries.WithLabelValues(kind, mailSent).Inc() }

// MailRetried counts a failed attempt of a mail of kind that will be
// tried again.
func (m *Metrics) MailRetried(kind string) {
	m.mail.deliveries.WithLabelValues(kind, mailRetried).Inc()
}

// MailFailed counts a mail of kind given up.
func (m *Metrics) MailFailed(kind string) { m.mail.deliveries.WithLabelValues(kind, mailFailed).Inc() }

// QueueStat is one job queue's backlog: the jobs waiting to run (available,
// scheduled, or to be retried) and how long the oldest has waited since it
// was queued.
type QueueStat struct {
	Queue     string
	Depth     int
	OldestAge time.Duration
}

// WatchQueues publishes the job queues' backlogs, read by stats at each
// scrape (bounded by queueStatsWait).
func (m *Metrics) WatchQueues(stats func(ctx context.Context) ([]QueueStat, error)) {
	m.reg.MustRegister(&queueCollector{stats: stats})
}

// queueStatsWait bounds a scrape's look at the queues.
const queueStatsWait = 2 * time.Second

var (
	queueDepth = prometheus.NewDesc("usersvc_job_queue_depth", "Jobs waiting to run (available, scheduled, to be retried), by queue.", []string{"queue"}, nil)
	queueAge   = prometheus.NewDesc("usersvc_job_queue_oldest_age_seconds", "How long the oldest waiting job of the queue has waited since it was queued (0 when none).", []string{"queue"}, nil)
	queueUp    = prometheus.NewDesc("usersvc_job_queue_stats_up", "Whether the last scrape could read the job queues (1) or not (0).", nil, nil)
)

type queueCollector struct {
	stats func(ctx context.Context) ([]QueueStat, error)
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepth
	ch <- queueAge
	ch <- queueUp
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueStatsWait)
	defer cancel()
	stats, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 1)
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(s.Depth), s.Queue)
		ch <- prometheus.MustNewConstMetric(queueAge, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Queue)
	}
}
