// Package httpapi serves the REST API of the design on net/http: the routes
// and their handlers (huma v2 on a ServeMux), the middleware around them
// (request id, access log), the one function that turns errors into status
// codes, and the OpenAPI document.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/usersvc/usersvc/internal/user"
)

// defaultMaxBodyBytes is the request body limit when Options leaves it unset.
// The largest valid body here is well under 1 KiB.
const defaultMaxBodyBytes = 64 << 10

// Options tune the handler. The zero value is usable.
type Options struct {
	// Logger receives one access-log line per request and the cause of every
	// 500. Nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes is the largest request body accepted, in bytes; larger
	// ones are answered 413. Zero or less means 64 KiB.
	MaxBodyBytes int64
}

// api holds what the handlers need.
type api struct {
	users        *user.Service
	huma         huma.API
	maxBodyBytes int64
}

// New returns the service's HTTP handler: the /api/v1 routes of the design,
// /openapi.json and /openapi.yaml, wrapped in the request-id and access-log
// middleware.
func New(svc *user.Service, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	mux := http.NewServeMux()
	a := &api{users: svc, maxBodyBytes: opts.MaxBodyBytes}
	a.huma = humago.New(mux, a.config())
	a.routes()
	serveOpenAPI(mux, a.huma.OpenAPI())

	// Outermost first. CORS, metrics and panic recovery go in this list.
	return chain(routed(mux),
		withRequestID(opts.Logger),
		logRequests,
	)
}

// config is huma's default configuration minus what this service does not
// want: the CDN-loaded docs page, the /schemas routes and the link
// transformer (which adds a "$schema" key to every response body and a Link
// header). The OpenAPI routes are served by serveOpenAPI instead.
func (a *api) config() huma.Config {
	cfg := huma.DefaultConfig("User Management Service API", "1.0.0")
	cfg.Info.Description = "API for user registration, authentication, and profile management."
	cfg.OpenAPIPath = ""
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil
	cfg.Formats = map[string]huma.Format{
		"application/json": strictJSON,
		"json":             strictJSON,
	}
	cfg.Transformers = []huma.Transformer{a.explainErrors}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		bearerAuth: {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	return cfg
}

// serveOpenAPI serves the finished document. huma's own OpenAPI routes
// marshal it lazily on the first request, unsynchronised, which races when
// the first two requests come together; marshalling once here cannot.
func serveOpenAPI(mux *http.ServeMux, doc *huma.OpenAPI) {
	specJSON, err := json.Marshal(doc)
	if err != nil {
		panic("httpapi: marshal OpenAPI document: " + err.Error())
	}
	specYAML, err := doc.YAML()
	if err != nil {
		panic("httpapi: marshal OpenAPI document as YAML: " + err.Error())
	}
	mux.HandleFunc("GET /openapi.json", serveBytes("application/openapi+json", specJSON))
	mux.HandleFunc("GET /openapi.yaml", serveBytes("application/openapi+yaml", specYAML))
}

func serveBytes(contentType string, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	}
}

// chain wraps h in middleware, the first one outermost.
func chain(h http.Handler, middleware ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}
