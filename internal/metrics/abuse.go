package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// abuse holds the collectors of the protections against abuse: logins by
// outcome, rate-limit refusals, lockouts, the Redis fallback.
type abuse struct {
	logins        *prometheus.CounterVec
	limited       *prometheus.CounterVec
	lockouts      prometheus.Counter
	degraded      prometheus.Gauge
	storeFailures prometheus.Counter
}

func newAbuse(reg prometheus.Registerer) *abuse {
	a := &abuse{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_logins_total",
			Help: "Login attempts by outcome: success, failure (bad credentials), locked (account cooling down), rate_limited, busy (hashing saturated), error.",
		}, []string{"outcome"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_rate_limited_total",
			Help: "Requests refused with 429, by limit.",
		}, []string{"limit"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersvc_login_lockouts_total",
			Help: "Accounts locked for a cool-down after repeated failed logins.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "usersvc_ratelimit_store_degraded",
			Help: "1 while Redis fails and rate limits and lockouts are counted in this process only, else 0.",
		}),
		storeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersvc_ratelimit_redis_errors_total",
			Help: "Failed calls to the Redis that holds rate limits and lockouts.",
		}),
	}
	for _, o := range []string{"success", "failure", "locked", "rate_limited", "busy", "error"} {
		a.logins.WithLabelValues(o)
	}
	reg.MustRegister(a.logins, a.limited, a.lockouts, a.degraded, a.storeFailures)
	return a
}

// Login counts a login attempt by outcome (see usersvc_logins_total).
func (m *Metrics) Login(outcome string) { m.abuse.logins.WithLabelValues(outcome).Inc() }

// RateLimited counts a 429 under the named limit.
func (m *Metrics) RateLimited(limit string) { m.abuse.limited.WithLabelValues(limit).Inc() }

// Lockout counts an account locked for a cool-down.
func (m *Metrics) Lockout() { m.abuse.lockouts.Inc() }

// LimitsDegraded sets whether limits are counted locally because Redis
// fails.
func (m *Metrics) LimitsDegraded(degraded bool) {
	v := 0.0
	if degraded {
		v = 1
	}
	m.abuse.degraded.Set(v)
}

// RedisError counts a failed call to the limits' Redis.
func (m *Metrics) RedisError() { m.abuse.storeFailures.Inc() }

// HashPoolStats is the state of the bounded password-hashing pool.
type HashPoolStats struct {
	InUse, Capacity, Waiting, MaxQueue int
	Rejected                           int64
}

// WatchHashPool publishes the hashing pool's state, read at each scrape.
func (m *Metrics) WatchHashPool(stats func() HashPoolStats) {
	m.reg.MustRegister(&hashPoolCollector{stats: stats})
}

var (
	hashSlots    = prometheus.NewDesc("usersvc_password_hash_slots", "Password-hashing slots by state (in_use, capacity).", []string{"state"}, nil)
	hashWaiting  = prometheus.NewDesc("usersvc_password_hash_waiting", "Requests waiting for a password-hashing slot.", nil, nil)
	hashQueueMax = prometheus.NewDesc("usersvc_password_hash_queue_max", "Most requests that may wait for a password-hashing slot.", nil, nil)
	hashRejected = prometheus.NewDesc("usersvc_password_hash_rejected_total", "Requests turned away with 503 because hashing was saturated.", nil, nil)
)

type hashPoolCollector struct{ stats func() HashPoolStats }

func (c *hashPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- hashSlots
	ch <- hashWaiting
	ch <- hashQueueMax
	ch <- hashRejected
}

func (c *hashPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(hashSlots, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(hashSlots, prometheus.GaugeValue, float64(s.Capacity), "capacity")
	ch <- prometheus.MustNewConstMetric(hashWaiting, prometheus.GaugeValue, float64(s.Waiting))
	ch <- prometheus.MustNewConstMetric(hashQueueMax, prometheus.GaugeValue, float64(s.MaxQueue))
	ch <- prometheus.MustNewConstMetric(hashRejected, prometheus.CounterValue, float64(s.Rejected))
}

// NeedsRehash passes through to the wrapped hasher, so that the service can
// still re-hash on login through the timing wrapper.
func (t timedHasher) NeedsRehash(hash string) bool {
	r, ok := t.Hasher.(interface{ NeedsRehash(string) bool })
	return ok && r.NeedsRehash(hash)
}
