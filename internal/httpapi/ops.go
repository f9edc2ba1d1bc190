package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/metrics"
)

// Build identifies the running binary.
type Build struct {
	Version string `json:"version" example:"v1.2.0"`
	Commit  string `json:"commit" example:"9be0a3b"`
}

// healthOutput is the liveness answer: the status alone. The build stays
// off the public port (Ops's /version, `usersvc version`): a version in
// every probe's answer would tell anyone which known flaws to try.
type healthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

type readyBody struct {
	Status string            `json:"status" enum:"ok,unavailable"`
	Detail string            `json:"detail,omitempty" doc:"what is not ready, when something is not"`
	Checks map[string]string `json:"checks" doc:"each dependency and its state"`
}

type readyOutput struct {
	Status int
	Body   readyBody
}

// opsRoutes registers the endpoints load balancers and operators use. They
// need no token and touch no user data.
func (a *api) opsRoutes() {
	huma.Register(a.huma, a.opsOp("GET /healthz", "healthz", "Liveness: the process serves (no dependency is called)"), a.healthz)
	huma.Register(a.huma, a.opsOp("GET /readyz", "readyz", "Readiness: the database answers", http.StatusServiceUnavailable), a.readyz)
}

func (a *api) opsOp(pattern, id, summary string, errs ...int) huma.Operation {
	// Any route can fail with a 500 (a panic is one), so say so.
	op := a.op(pattern, id, http.StatusOK, summary, append(errs, http.StatusInternalServerError)...)
	op.Tags = []string{"Operations"}
	return op
}

func (a *api) healthz(context.Context, *struct{}) (*healthOutput, error) {
	out := &healthOutput{}
	out.Body.Status = "ok"
	return out, nil
}

// readyz answers 503 naming the failing check when the database does not
// answer within readyTimeout. The cause is logged, never sent.
func (a *api) readyz(ctx context.Context, _ *struct{}) (*readyOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, a.readyTimeout)
	defer cancel()
	start := time.Now()
	if err := a.ready(ctx); err != nil {
		logger(ctx).Warn("not ready", "check", "database", "error", err.Error(), "waited_ms", time.Since(start).Milliseconds())
		return &readyOutput{Status: http.StatusServiceUnavailable, Body: readyBody{
			Status: "unavailable", Detail: "database is unreachable", Checks: map[string]string{"database": "unreachable"},
		}}, nil
	}
	return &readyOutput{Status: http.StatusOK, Body: readyBody{Status: "ok", Checks: map[string]string{"database": "ok"}}}, nil
}

// Ops is the handler of the operations listener (USERSVC_OPS_ADDR), kept
// off the public port: /metrics (Prometheus text) and /version (the
// build), and /healthz for a probe of the listener itself.
func Ops(m *metrics.Metrics, build Build) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	version, err := json.Marshal(build)
	if err != nil {
		panic("httpapi: marshal the build: " + err.Error())
	}
	mux.HandleFunc("GET /version", serveBytes("application/json", version))
	mux.HandleFunc("GET /healthz", serveBytes("application/json", []byte(`{"status":"ok"}`)))
	return securityHeaders(mux)
}
