// Package app is the composition root: from a config.Config it opens the
// store, sets up token signing, the protections against abuse, account
// mail, the user.Service and its HTTP handler, and serves them. main and
// every HTTP test build the service through New; nothing else wires it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/jobs"
	"github.com/usersvc/usersvc/internal/mail"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web"
	"github.com/usersvc/usersvc/internal/webhook"
)

// App is the assembled service. Build it with New, serve it with Run or
// through Handler, and release it with Close.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	db       Store
	kind     string // "postgres" or "sqlite"
	svc      *user.Service
	handler  http.Handler
	ops      http.Handler // the operations listener's
	metrics  *metrics.Metrics
	slots    int
	gate     user.HashGate
	ring     *signing.Ring       // nil with HS256
	queue    JobQueue            // nil on the in-memory store
	webhooks *webhook.Service    // nil when the store keeps no webhooks
	hookSink *webhook.Dispatcher // the webhooks' sink of events, nil with webhooks
	passkeys *passkey.Service    // nil when the store keeps none or production has no public URL
	// passkeyFactor is passkeys as the user service's second factor (passkeys.go).
	passkeyFactor *passkeyFactor
	web           *web.Pages           // nil with USERSVC_UI=off
	consents      *consentedApps       // nil when the store keeps no OpenID provider state
	clients       *oauthclient.Service // nil when the store keeps no client registry
	tokens        *security.JWT
	stop          context.CancelFunc // ends the background work New started
	closers       []func()           // run by Close, last first
}

// options are what tests may replace.
type options struct {
	now      func() time.Time
	notifier user.Notifier
	mailer   mail.Mailer // nil: the configured one
	build    httpapi.Build
	db       Store         // nil: the configured one
	gate     user.HashGate // nil: the configured pool
	// serviceStores makes the user service's stores from the database's
	// (tests); nil: the database's as they are.
	serviceStores func(user.Stores) user.Stores
	sinks         map[string]jobs.Sink
	// webhookGuard stands in front of every webhook connection (tests).
	webhookGuard webhook.Guard
	// oidcClients and browser stand in for the client registry and the
	// hosted pages' browser session of the OpenID provider (tests).
	oidcClients oidcop.Clients
	browser     oidcop.Browser
	// oidcStores makes the OpenID provider's stores from the database's
	// (tests); nil: the database's as they are.
	oidcStores func(oidcop.Stores) oidcop.Stores
	// keyReloads, when set, are the times the signing keys are reloaded
	// (tests); nil: every KeyReloadEvery.
	keyReloads <-chan time.Time
}

// Option changes how New assembles the App.
type Option func(*options)

// WithClock makes the service, its limits and its tokens read the time
// from now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithKeyReloads reloads the signing keys at each time ticks sends instead
// of every KeyReloadEvery (tests).
func WithKeyReloads(ticks <-chan time.Time) Option { return func(o *options) { o.keyReloads = ticks } }

// WithNotifier sends account mail through n instead of the configured
// mailer (tests capture the mail this way).
func WithNotifier(n user.Notifier) Option { return func(o *options) { o.notifier = n } }

// WithMailer sends account mail, rendered with the configured links,
// through m instead of the configured mailer (tests read the links this
// way).
func WithMailer(m mail.Mailer) Option { return func(o *options) { o.mailer = m } }

// WithEventSink makes s consume every event, as a job of its own per
// event named name (keep it stable: queued events name their sink): how
// webhooks, or a test, receive the events.
func WithEventSink(name string, s jobs.Sink) Option {
	return func(o *options) {
		if o.sinks == nil {
			o.sinks = map[string]jobs.Sink{}
		}
		o.sinks[name] = s
	}
}

// WithWebhookGuard puts g in front of every webhook connection: a test's
// stub resolver and a hook that refuses any address it does not expect.
func WithWebhookGuard(g webhook.Guard) Option { return func(o *options) { o.webhookGuard = g } }

// WithStore serves db instead of the configured database (tests use a
// fake that can fail on demand). The App closes it.
func WithStore(db Store) Option { return func(o *options) { o.db = db } }

// WithServiceStores gives the user service f(stores) instead of the
// database's ports (tests watch or hold a port this way, with
// usertest.Wrap). Nothing else built on the database sees f.
func WithServiceStores(f func(user.Stores) user.Stores) Option {
	return func(o *options) { o.serviceStores = f }
}

// WithHashGate bounds hashing with g instead of the configured pool
// (tests block the hashing this way). The waiting room of logins keeps
// the configured size.
func WithHashGate(g user.HashGate) Option { return func(o *options) { o.gate = g } }

// WithBuild names the running build, for the operations listener's
// /version (never the public port's /healthz).
func WithBuild(b httpapi.Build) Option { return func(o *options) { o.build = b } }

// WithOIDCClients makes the OpenID provider take its clients from c
// instead of the client registry (tests).
func WithOIDCClients(c oidcop.Clients) Option { return func(o *options) { o.oidcClients = c } }

// WithOIDCStores gives the OpenID provider f(stores) instead of the
// database's (tests hold an exchange at a port this way). Nothing else
// built on the database sees f.
func WithOIDCStores(f func(oidcop.Stores) oidcop.Stores) Option {
	return func(o *options) { o.oidcStores = f }
}

// WithBrowser makes the OpenID provider see the browser's signed-in user
// through b instead of the hosted pages (tests).
func WithBrowser(b oidcop.Browser) Option { return func(o *options) { o.browser = b } }

// New assembles the service cfg describes, logging to log, one capability
// at a time, each needing only those before it: the store (migrated with
// cfg.MigrateOnStart), the signing keys, the protections against abuse,
// account mail, events (webhooks and the job queue), the user.Service,
// passkeys, the bootstrap administrator, the hosted pages, the OpenID
// provider and the HTTP handlers. Close releases what it opened, also when New fails half-way.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (_ *App, err error) {
	o := options{now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a := &App{cfg: cfg, log: log, metrics: metrics.New(), stop: stop, passkeyFactor: &passkeyFactor{}}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openStore(ctx, o.db); err != nil {
		return nil, err
	}
	keys, err := a.openKeys(ctx, bg, o.now, o.keyReloads)
	if err != nil {
		return nil, err
	}
	prot, err := a.protections(ctx, o.now, o.gate)
	if err != nil {
		return nil, err
	}
	notifier, err := a.openMail(o)
	if err != nil {
		return nil, err
	}
	if err := a.openEvents(ctx, bg, keys, notifier, o); err != nil {
		return nil, err
	}
	a.openService(keys, prot, notifier, o)
	a.openConsents(a.providerClients(o), o.now)               // pages.go
	if err := a.openPasskeys(a.svc, log, o.now); err != nil { // passkeys.go
		return nil, err
	}
	if err := a.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	mount, err := a.pages(keys, prot, o.now) // pages.go
	if err != nil {
		return nil, err
	}
	oauth, err := a.openOIDC(keys, o) // oidc.go, after the pages: their session is its browser's
	if err != nil {
		return nil, err
	}
	a.openHTTP(keys, prot, mount, oauth, o.build)
	a.startRetention(bg, o.now)
	return a, nil
}

// openMail is the account mail's notifier: a test's, else the
// configured mailer's (mail.go).
func (a *App) openMail(o options) (user.Notifier, error) {
	if o.notifier != nil {
		return o.notifier, nil
	}
	n, err := a.notifier(o.mailer)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// openEvents starts the outbound webhooks (webhooks.go) and the job queue
// that delivers mail, events and webhooks (jobs.go).
func (a *App) openEvents(ctx, bg context.Context, keys tokenKeys, notifier user.Notifier, o options) error {
	if err := a.openWebhooks(bg, o.now, o.webhookGuard); err != nil {
		return err
	}
	return a.openQueue(ctx, keys.seal, notifier, o.sinks, o.now)
}

// openService builds the user.Service, every business rule, on the store,
// keys and protections, with the client registry (clients.go) and the
// second factors (mfa.go) and what other packages keep for the export
// (export.go).
func (a *App) openService(keys tokenKeys, prot protections, notifier user.Notifier, o options) {
	now := o.now
	a.gate = prot.gate
	a.tokens = keys.tokens
	a.clients = ClientService(a.db, keys.tokens, prot.clients, a.log, now)
	stores := a.db.Stores()
	if o.serviceStores != nil {
		stores = o.serviceStores(stores)
	}
	a.svc = user.NewService(user.Deps{
		Stores: stores, Hasher: prot.hasher, Tokens: keys.tokens, Gate: prot.gate, Guard: prot.guard,
		Notifier: notifier, Log: a.log, Now: now, Secret: keys.derived, Observer: a.metrics,
		Jobs:           a.jobAdmin(),
		MoreAuditKinds: slices.Concat(webhook.AuditKinds, oauthclient.AuditKinds, passkey.AuditKinds, KeyAuditKinds),
		MFA:            MFA(a.cfg, a.log, a.passkeyFactor),
		Records:        a.exportRecords(a.providerClients(o)),
	}, Policy(a.cfg))
}

// openHTTP builds the public handler over everything opened before, and
// the operations listener's.
func (a *App) openHTTP(keys tokenKeys, prot protections, mount func(*http.ServeMux), oauth *httpapi.OAuth, build httpapi.Build) {
	cfg := a.cfg
	a.handler = httpapi.New(a.svc, httpapi.Options{
		Logger: a.log, MaxBodyBytes: cfg.MaxBodyBytes, CORSOrigins: cfg.CORSOrigins, Metrics: a.metrics,
		Limits: prot.limits, LoginRoom: prot.room, ClientIP: prot.clientIP, JWKS: keys.jwks, Ready: a.db.Ping,
		NoDocs: !bool(cfg.Docs), Webhooks: a.webhooks, Clients: a.clients, OAuth: oauth, Passkeys: a.passkeys, Mount: mount,
		Consents: a.httpConsents(),
		Discovery: httpapi.Discovery{
			PublicURL: cfg.PublicURL, Issuer: cfg.JWTIssuer, SigningAlg: cfg.JWTAlg, Docs: bool(cfg.Docs),
			OpenID: openIDDiscovery(oauth),
		},
	})
	a.ops = httpapi.Ops(a.metrics, build)
}

// httpConsents are a.consents for the API: nil (not a nil pointer) when
// the store keeps none.
func (a *App) httpConsents() httpapi.Consents {
	if a.consents == nil {
		return nil
	}
	return a.consents
}

// Policy is the user.Policy cfg sets.
func Policy(cfg config.Config) user.Policy {
	return user.Policy{
		Password: PasswordPolicy(cfg),
		Sessions: user.SessionPolicy{
			RefreshTTL: cfg.RefreshTokenTTL, MaxAge: cfg.SessionMaxAge, ReuseGrace: cfg.RefreshReuseGrace,
		},
		Lifecycle: user.LifecyclePolicy{
			VerifyTTL: cfg.EmailVerificationTTL, ResetTTL: cfg.PasswordResetTTL,
			RequireVerified: bool(cfg.RequireVerifiedEmail),
		},
		ReauthWindow: cfg.ReauthWindow,
		MaxSessions:  cfg.MaxSessionsPerUser,
		RequireMFA:   user.MFAPolicy(cfg.RequireMFAFor),
	}
}

// Handler is the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// OpsHandler is the operations listener's handler: /metrics and /version.
func (a *App) OpsHandler() http.Handler { return a.ops }

// Stores are the ports of the App's database, for operator actions and
// tests.
func (a *App) Stores() user.Stores { return a.db.Stores() }

// Ring is the signing-key ring, nil with HS256 (operator actions and
// tests rotate through it).
func (a *App) Ring() *signing.Ring { return a.ring }

// Service is the user.Service the handler serves.
func (a *App) Service() *user.Service { return a.svc }

// HashSlots is how many password hashes may run at once.
func (a *App) HashSlots() int { return a.slots }

// HashGate is the bound on concurrent password hashing the service runs
// under (tests take its slots to saturate it).
func (a *App) HashGate() user.HashGate { return a.gate }

// onClose runs f when the App closes, before what was opened earlier.
func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

// Close stops the background work and releases everything New opened, the
// newest first: account mail is delivered before the database closes.
func (a *App) Close() {
	a.stop()
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Run serves on cfg.Addr until ctx ends, then stops accepting, gives
// in-flight requests cfg.ShutdownTimeout to finish, and lets the
// service's background work finish within the same grace.
func (a *App) Run(ctx context.Context) error {
	if err := startPprof(ctx, a.cfg.PprofAddr, a.log); err != nil { // off unless USERSVC_PPROF_ADDR is set
		return err
	}
	if err := a.serveOps(ctx); err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("USERSVC_ADDR=%s: cannot listen: %w", a.cfg.Addr, err)
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "database", a.kind, "env", a.cfg.Env)
	return a.Serve(ctx, ln)
}

// serveOps serves the operations handler on USERSVC_OPS_ADDR (unless it is
// off) until ctx ends.
func (a *App) serveOps(ctx context.Context) error {
	if a.cfg.OpsAddr == "" {
		return nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.cfg.OpsAddr)
	if err != nil {
		return fmt.Errorf("USERSVC_OPS_ADDR=%s: cannot listen: %w", a.cfg.OpsAddr, err)
	}
	srv := &http.Server{Handler: a.ops, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("operations listener", "error", err.Error())
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	a.log.Info("operations listening", "addr", ln.Addr().String())
	return nil
}

// Serve is Run on a listener of the caller's.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	grace := a.cfg.ShutdownTimeout
	a.log.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if err := a.svc.Close(shutdownCtx); err != nil {
		a.log.Warn("background work did not finish before shutdown", "error", err.Error())
	}
	a.log.Info("stopped")
	return nil
}
