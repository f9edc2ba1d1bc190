package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/security"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMetricsExposition(t *testing.T) {
	m := metrics.New()
	m.Start().Done("GET /api/v1/users/me", "GET", 200)
	m.Start().Done("GET /api/v1/users/me", "GET", 401)
	m.Start().Done("", "GET", 404)
	m.Start().Done("POST /api/v1/token", "POST", 503)
	inFlight := m.Start() // still running at scrape time
	b, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	h := m.TimeHasher(b)
	hash, err := h.Hash("password1")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify(hash, "password1") {
		t.Fatal("timed hasher no longer verifies")
	}
	m.WatchPool("postgres", func() metrics.PoolStats {
		return metrics.PoolStats{InUse: 2, Idle: 3, Max: 10, WaitCount: 4, WaitDuration: 2 * time.Second}
	})

	out := scrape(t, m)
	for _, want := range []string{
		`usersvc_http_requests_total{method="GET",route="GET /api/v1/users/me",status="2xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="GET /api/v1/users/me",status="4xx"} 1`,
		`usersvc_http_requests_total{method="GET",route="unmatched",status="4xx"} 1`,
		`usersvc_http_requests_total{method="POST",route="POST /api/v1/token",status="5xx"} 1`,
		`usersvc_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/users/me",status="2xx",le="+Inf"} 1`,
		`usersvc_http_requests_in_flight 1`,
		`usersvc_password_hash_duration_seconds_count 2`,
		`usersvc_db_pool_connections{database="postgres",state="in_use"} 2`,
		`usersvc_db_pool_connections{database="postgres",state="idle"} 3`,
		`usersvc_db_pool_max_connections{database="postgres"} 10`,
		`usersvc_db_pool_waits_total{database="postgres"} 4`,
		`usersvc_db_pool_wait_seconds_total{database="postgres"} 2`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	inFlight.Done("GET /healthz", "GET", 200)
	if out := scrape(t, m); !strings.Contains(out, "usersvc_http_requests_in_flight 0") {
		t.Error("in-flight gauge did not return to 0")
	}
}
