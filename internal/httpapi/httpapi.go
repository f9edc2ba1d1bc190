// Package httpapi serves the REST API of the design on net/http: the routes
// and their handlers (huma v2 on a ServeMux), the middleware around them
// (request id, access log), the one function that turns errors into status
// codes, and the OpenAPI document.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
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
	// CORSOrigins are the browser origins allowed to call the API. Empty
	// means none: no CORS headers are ever sent.
	CORSOrigins []string
	// Metrics receives request counts and latencies and is served at
	// /metrics. Nil means a fresh metrics.New().
	Metrics *metrics.Metrics
	// ReadyTimeout bounds the database check of /readyz. Zero means 2 s.
	ReadyTimeout time.Duration
	// ExportWriteWait is how long the export waits for its client to take
	// each 32 KiB of the document, in place of the server's WriteTimeout.
	// Zero means 30 s.
	ExportWriteWait time.Duration
	// Limits are the rate limits of the API (limits.go). Nil means none.
	Limits *Limits
	// ClientIP finds the client address the limits count. Nil means the
	// socket's peer, whatever X-Forwarded-For says.
	ClientIP *clientip.Resolver
	// JWKS returns the public keys served at /.well-known/jwks.json. Nil
	// means an empty set (HS256 tokens, which nobody else can verify).
	JWKS func() jose.JSONWebKeySet
	// Discovery is what the discovery documents publish (discovery.go).
	Discovery Discovery
	// Ready reports whether the database answers, for /readyz. Nil means
	// always ready.
	Ready func(ctx context.Context) error
	// NoDocs leaves out /docs and /openapi.* (USERSVC_DOCS=off).
	NoDocs bool
	// LoginRoom is the waiting room of /token (admission.go): requests
	// beyond it are refused before their body is read. Nil means none.
	LoginRoom LoginRoom
	// Webhooks manages webhook endpoints under /api/v1/admin/webhooks. Nil
	// answers those routes 503 webhooks_unavailable.
	Webhooks *webhook.Service
	// Passkeys is the WebAuthn relying party of /api/v1/users/me/passkeys
	// and /api/v1/passkeys. Nil answers those routes 503.
	Passkeys *passkey.Service
	// Mount registers more routes on the handler's mux, served inside its
	// middleware (request id, access log, security headers, body limit):
	// the hosted pages (internal/web). Nil: none.
	Mount func(mux *http.ServeMux)
	// Clients is the OAuth client registry: /api/v1/admin/clients, the
	// per-client rules of /token and service accounts on the admin API.
	// Nil answers those routes 503 clients_unavailable and honours no
	// client.
	Clients *oauthclient.Service
	// OAuth is the OpenID provider (internal/oidcop). Nil means none.
	OAuth *OAuth
	// Consents are the OpenID provider's consents, for
	// /api/v1/users/me/consents. Nil: a store that keeps none (the list is
	// empty, a withdrawal 404).
	Consents Consents
}

// OAuth is the OpenID provider's part of the surface: its endpoints
// under /oauth/, and the token grants it takes at /api/v1/token (the one
// token endpoint the discovery documents name).
type OAuth struct {
	// Handler serves /oauth/...
	Handler http.Handler
	// Token answers a /token request that Takes says is its.
	Token http.Handler
	// Takes reports whether a /token request of grantType (and, for the
	// refresh_token grant, refreshToken) is the provider's.
	Takes func(grantType, refreshToken string) bool
	// Revoke answers a /revoke request whose token Revokes says is the
	// provider's: /revoke is the revocation endpoint the discovery
	// documents name, for the provider's tokens too.
	Revoke  http.Handler
	Revokes func(token string) bool
}

// api holds what the handlers need.
type api struct {
	users        *user.Service
	huma         huma.API
	maxBodyBytes int64
	readyTimeout time.Duration
	exportWait   time.Duration
	limits       *Limits
	clientIP     *clientip.Resolver
	metrics      *metrics.Metrics
	ready        func(ctx context.Context) error
	webhooks     *webhook.Service
	clients      *oauthclient.Service
	passkeys     *passkey.Service
	consents     Consents
}

// New returns the service's HTTP handler: the /api/v1 routes of the design;
// /healthz, /readyz, /version and /metrics for operators;
// /.well-known/jwks.json for services verifying our tokens; /openapi.json,
// /openapi.yaml and the /docs page; all wrapped in the middleware (a.middleware).
func New(svc *user.Service, opts Options) http.Handler {
	opts = opts.withDefaults()
	mux := http.NewServeMux()
	a := &api{users: svc, maxBodyBytes: opts.MaxBodyBytes, readyTimeout: opts.ReadyTimeout, exportWait: opts.ExportWriteWait}
	a.limits, a.clientIP, a.metrics, a.ready = opts.Limits, orPeer(opts.ClientIP), opts.Metrics, opts.Ready
	a.webhooks = opts.Webhooks
	a.clients = opts.Clients
	a.passkeys = opts.Passkeys
	a.consents = opts.Consents
	if a.limits == nil {
		a.limits = &Limits{}
	}
	a.huma = humago.New(mux, a.config())
	a.routes()
	documentEvents(a.huma.OpenAPI()) // events_doc.go
	a.opsRoutes()
	a.jwksRoute(opts.JWKS)
	a.discoveryRoutes(opts.Discovery)
	finishDocument(a.huma.OpenAPI())
	if !opts.NoDocs {
		serveOpenAPI(mux, a.huma.OpenAPI())
		docs(mux)
	}
	if opts.Mount != nil {
		opts.Mount(mux)
	}
	if opts.OAuth != nil {
		mux.Handle(oauthPrefix, a.guardClients(a.limitAuthorize(opts.OAuth.Handler)))
	}
	return chain(routed(mux), a.middleware(opts)...)
}

// withDefaults is o with every unset option at its default.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 2 * time.Second
	}
	if o.ExportWriteWait <= 0 {
		o.ExportWriteWait = exportWriteWait
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	return o
}

// middleware is what wraps every request, outermost first: every request
// gets an id, then is logged and counted and cannot crash the server,
// then gets the security headers; CORS answers preflights before
// routing; the body limit and the login waiting room act before anything
// reads the body.
func (a *api) middleware(opts Options) []func(http.Handler) http.Handler {
	middleware := []func(http.Handler) http.Handler{
		withRequestID(opts.Logger),
		logRequests(opts.Metrics),
		securityHeaders,
	}
	if len(opts.CORSOrigins) > 0 { // rs/cors would allow every origin for an empty list
		middleware = append(middleware, withCORS(opts.CORSOrigins, routeMethods(a.huma.OpenAPI())))
	}
	middleware = append(middleware, limitBody(opts.MaxBodyBytes))
	if opts.LoginRoom != nil {
		middleware = append(middleware, a.admitLogins(opts.LoginRoom))
	}
	if opts.OAuth != nil {
		middleware = append(middleware, a.delegateGrants(opts.OAuth))
	}
	return middleware
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
// the first two requests come together; marshalling once here cannot. The
// YAML form is converted from it on its first request, once: the
// conversion costs more than the rest of New together, and few clients
// ever ask for it.
func serveOpenAPI(mux *http.ServeMux, doc *huma.OpenAPI) {
	specJSON, err := json.Marshal(doc)
	if err != nil {
		panic("httpapi: marshal OpenAPI document: " + err.Error())
	}
	specYAML := sync.OnceValues(doc.YAML)
	mux.HandleFunc("GET /openapi.json", serveBytes("application/openapi+json", specJSON))
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		b, err := specYAML()
		if err != nil { // the JSON form marshalled, so this is a bug of ours
			panic("httpapi: marshal OpenAPI document as YAML: " + err.Error())
		}
		serveBytes("application/openapi+yaml", b)(w, r)
	})
}

func serveBytes(contentType string, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	}
}

// routeMethods lists the methods of the documented routes, which CORS
// allows; OPTIONS is CORS's own.
func routeMethods(doc *huma.OpenAPI) []string {
	seen := map[string]bool{}
	for _, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
		} {
			if op != nil {
				seen[method] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// chain wraps h in middleware, the first one outermost.
func chain(h http.Handler, middleware ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}
