// Package metrics keeps usersvc's Prometheus metrics on a private registry
// and serves them. Label values are bounded: route patterns, methods and
// status classes, never raw paths or user ids.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/usersvc/usersvc/internal/user"
)

// Metrics holds the service's collectors.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	hashing  prometheus.Histogram
	abuse    *abuse // abuse.go
	audit    *audit // audit.go
	// retention is what retention removed: retention.go
	retention *retention
	mail      *mail // jobs.go
	// keyReloads counts the signing keys' failed reloads: keys.go
	keyReloads prometheus.Counter
}

// New returns the metrics on a fresh registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status class.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usersvc_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern, method and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "usersvc_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		hashing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "usersvc_password_hash_duration_seconds",
			Help:    "Time to hash or verify one password.",
			Buckets: []float64{.01, .025, .05, .1, .2, .4, .8, 1.6},
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inFlight, m.hashing,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.abuse = newAbuse(m.reg)
	m.audit = newAudit(m.reg)
	m.retention = newRetention(m.reg)
	m.mail = newMail(m.reg)
	m.keyReloads = newKeyReloads(m.reg)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Start counts a request as in flight; call Done on what it returns with
// the request's route pattern, method and status when it is done.
func (m *Metrics) Start() Request {
	m.inFlight.Inc()
	return Request{m: m, began: time.Now()}
}

// Request is a request Start counted; a value, so that counting one
// allocates nothing.
type Request struct {
	m     *Metrics
	began time.Time
}

// Done counts the request as served: by route ("unmatched" when empty),
// method (methodLabel) and status class, with its duration.
func (r Request) Done(route, method string, status int) {
	r.m.inFlight.Dec()
	if route == "" {
		route = "unmatched"
	}
	class := statusClass(status)
	method = methodLabel(method)
	r.m.requests.WithLabelValues(route, method, class).Inc()
	r.m.latency.WithLabelValues(route, method, class).Observe(time.Since(r.began).Seconds())
}

// methodLabel is method when it is one of RFC 9110's (and PATCH), "other"
// for any other: net/http takes any token as a method, and a label per
// made-up one would let a client grow the registry without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusClass is "2xx" for 200 to 299, and so on.
func statusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return strconv.Itoa(status/100) + "xx"
}

// ObserveHash records how long one password hash or verification took.
func (m *Metrics) ObserveHash(d time.Duration) { m.hashing.Observe(d.Seconds()) }

// TimeHasher returns h with every Hash and Verify timed.
func (m *Metrics) TimeHasher(h user.Hasher) user.Hasher { return timedHasher{h, m} }

type timedHasher struct {
	user.Hasher
	m *Metrics
}

func (t timedHasher) Hash(password string) (string, error) {
	defer t.m.since(time.Now())
	return t.Hasher.Hash(password)
}

func (t timedHasher) Verify(hash, password string) bool {
	defer t.m.since(time.Now())
	return t.Hasher.Verify(hash, password)
}

func (m *Metrics) since(start time.Time) { m.ObserveHash(time.Since(start)) }

// PoolStats is a database pool's state at one moment.
type PoolStats struct {
	InUse, Idle, Max int
	WaitCount        int64
	WaitDuration     time.Duration
}

// WatchPool publishes the stats that stats returns, read at each scrape.
func (m *Metrics) WatchPool(database string, stats func() PoolStats) {
	m.reg.MustRegister(&poolCollector{database: database, stats: stats})
}

type poolCollector struct {
	database string
	stats    func() PoolStats
}

var (
	poolOpen  = prometheus.NewDesc("usersvc_db_pool_connections", "Database connections by state.", []string{"database", "state"}, nil)
	poolMax   = prometheus.NewDesc("usersvc_db_pool_max_connections", "Most database connections the pool opens.", []string{"database"}, nil)
	poolWaits = prometheus.NewDesc("usersvc_db_pool_waits_total", "Times a request waited for a free connection.", []string{"database"}, nil)
	poolWait  = prometheus.NewDesc("usersvc_db_pool_wait_seconds_total", "Time spent waiting for a free connection.", []string{"database"}, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolOpen
	ch <- poolMax
	ch <- poolWaits
	ch <- poolWait
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.InUse), c.database, "in_use")
	ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.Idle), c.database, "idle")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.Max), c.database)
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.WaitCount), c.database)
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.WaitDuration.Seconds(), c.database)
}
