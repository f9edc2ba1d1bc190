package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// retention counts what retention removed and how old each table's oldest
// row is (retention.Observer).
type retention struct {
	removed *prometheus.CounterVec
	oldest  *prometheus.GaugeVec
}

func newRetention(reg prometheus.Registerer) *retention {
	r := &retention{
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_retention_removed_rows_total",
			Help: "Rows retention removed, by table.",
		}, []string{"table"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "usersvc_retention_oldest_row_age_seconds",
			Help: "Age of the oldest row of each table retention keeps bounded, as of its last run on this replica (0: empty). Alert when it grows past the retention period.",
		}, []string{"table"}),
	}
	reg.MustRegister(r.removed, r.oldest)
	return r
}

// RetentionRemoved counts n rows removed from table.
func (m *Metrics) RetentionRemoved(table string, n int64) {
	m.retention.removed.WithLabelValues(table).Add(float64(n))
}

// RetentionOldest sets the age of table's oldest row.
func (m *Metrics) RetentionOldest(table string, age time.Duration) {
	m.retention.oldest.WithLabelValues(table).Set(age.Seconds())
}
