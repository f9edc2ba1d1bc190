package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/internal/user"
)

// audit counts the audit events the service could not store as they were
// (user.Observer).
type audit struct {
	retried, lost *prometheus.CounterVec
}

func newAudit(reg prometheus.Registerer) *audit {
	a := &audit{
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_audit_events_retried_total",
			Help: "Audit events that could not be stored as they were and were stored without their client text and detail, by kind.",
		}, []string{"kind"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usersvc_audit_events_lost_total",
			Help: "Audit events that could not be stored at all, by kind (a security event's change was refused with it). Alert on any.",
		}, []string{"kind"}),
	}
	reg.MustRegister(a.retried, a.lost)
	return a
}

var _ user.Observer = (*Metrics)(nil)

// AuditRetried counts an audit event stored again without its client text.
func (m *Metrics) AuditRetried(kind user.AuditKind) {
	m.audit.retried.WithLabelValues(string(kind)).Inc()
}

// AuditLost counts an audit event that could not be stored.
func (m *Metrics) AuditLost(kind user.AuditKind) { m.audit.lost.WithLabelValues(string(kind)).Inc() }
