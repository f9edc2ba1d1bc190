package metrics

import "github.com/prometheus/client_golang/prometheus"

// newKeyReloads counts the failed reloads of the signing keys.
func newKeyReloads(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "usersvc_signing_key_reload_failures_total",
		Help: "Reloads of the signing keys that failed (the keys last loaded stay in use; a key another replica made is not verified here until one works). Alert on any.",
	})
	reg.MustRegister(c)
	return c
}

// SigningKeyReloadFailed counts a failed reload of the signing keys.
func (m *Metrics) SigningKeyReloadFailed() { m.keyReloads.Inc() }
