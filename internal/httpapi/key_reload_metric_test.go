package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
)

// TestFailedKeyReloadIsCounted: a replica whose reload of the signing keys
// fails (here a key sealed under a key-encryption key it lacks, made by a
// replica rolled in one step) counts it in
// usersvc_signing_key_reload_failures_total, for an alert: it goes on with
// the keys it had, so nothing else shows that it no longer verifies the
// other replica's tokens. It was a log line only.
func TestFailedKeyReloadIsCounted(t *testing.T) {
	d := newKEKDeployment(t, apptest.SQLite)
	old, rolled := newKEK(t), newKEK(t)
	reloads := make(chan time.Time)
	x := newServer(t, d.kind, apptest.Env(d.vars(old, "")...), apptest.With(app.WithKeyReloads(reloads)))
	const metric = "usersvc_signing_key_reload_failures_total"
	if got := metricLine(t, x, metric); got != metric+" 0" {
		t.Fatalf("before any reload: %q, want %s 0", got, metric)
	}
	y := newServer(t, d.kind, apptest.Env(d.vars(rolled, old)...))
	if _, err := y.App.Ring().RotateNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Run takes the second time once it has reloaded at the first.
	reloads <- time.Now()
	reloads <- time.Now()
	if got := metricLine(t, x, metric); got == metric+" 0" || !strings.HasPrefix(got, metric+" ") {
		t.Errorf("after reloads that could not open the new key: %q, want the failures counted", got)
	}
}

// metricLine is the line of the metric name on s's /metrics.
func metricLine(t *testing.T, s *server, name string) string {
	t.Helper()
	res := s.ops(req{method: "GET", path: "/metrics"})
	if res.Status != http.StatusOK {
		t.Fatalf("/metrics: %v", res)
	}
	for line := range strings.Lines(string(res.Body)) {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
