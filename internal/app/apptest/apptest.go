// Package apptest builds the real service, through app.New, for HTTP
// tests: on SQLite, on PostgreSQL (a throwaway database from storetest)
// or on the in-memory fake (for failures a real database cannot be made
// to have on demand), with a clock the test moves, account mail captured
// in a mailbox and logs captured as JSON.
package apptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oauthclient/oauthclienttest"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/webhook"
	"github.com/usersvc/usersvc/internal/webhook/webhooktest"
)

// The kinds of store a Server runs on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	Memory   = "memory"
)

// Stores are the real databases every HTTP test runs on.
func Stores() []string { return []string{SQLite, Postgres} }

// Secret signs the test servers' HS256 tokens.
const Secret = "apptest-secret-0123456789abcdef-0123456789"

// Server is the assembled service over one kind of store.
type Server struct {
	App     *app.App
	Handler http.Handler
	Stores  user.Stores      // the store's ports, for what only an operator does
	Memory  *usertest.Memory // the fake, on Memory only
	Mail    *usertest.Mailbox
	Clock   *Clock
	Logs    *Buffer
	// kind and env are the store and the configuration it runs on.
	kind string
	env  map[string]string
}

type setup struct {
	env   map[string]string
	opts  []app.Option
	hooks *webhooktest.Memory // the fake's webhook stores; nil: none
	// clients is the fake's client registry; nil: none.
	clients *oauthclienttest.Memory
}

// Option adjusts a Server's configuration.
type Option func(*setup)

// Env sets configuration variables, name then value, over the tests'
// defaults (HS256, bcrypt cost 4, rate limits off). On Postgres, a
// DATABASE_URL given here (storetest.PostgresURL) is used instead of a
// fresh database, and on SQLite a USERSVC_DATA_DIR, so that two servers
// can share one.
func Env(kv ...string) Option {
	return func(s *setup) {
		for i := 0; i+1 < len(kv); i += 2 {
			s.env[kv[i]] = kv[i+1]
		}
	}
}

// NoWebhooks gives the in-memory fake no webhook stores, so that the
// service has no webhooks (webhook.ErrUnavailable).
func NoWebhooks() Option { return func(s *setup) { s.hooks = nil } }

// NoClients gives the in-memory fake no OAuth client registry, so that
// the routes that need one can be seen answering 503.
func NoClients() Option { return func(s *setup) { s.clients = nil } }

// With passes app options (a notifier of the test's, say) to app.New.
func With(opts ...app.Option) Option {
	return func(s *setup) { s.opts = append(s.opts, opts...) }
}

// WrapStores makes the service reach its stores through wrap, also inside
// its transactions (usertest.Wrap): for tests that watch a port, or hold
// a request at one while another runs.
func WrapStores(wrap func(user.Stores) user.Stores) Option {
	return With(app.WithServiceStores(func(st user.Stores) user.Stores { return usertest.Wrap(st, wrap) }))
}

// New builds the service on a fresh store of kind, closed in t.Cleanup.
func New(t testing.TB, kind string, opts ...Option) *Server {
	t.Helper()
	s := setup{env: map[string]string{
		"USERSVC_ENV": config.Development, "USERSVC_BCRYPT_COST": "4", "USERSVC_JWT_ALG": security.HS256,
		"USERSVC_JWT_SECRET": Secret, "USERSVC_RATE_LIMITS": "off", "USERSVC_DATA_DIR": t.TempDir(),
		// Queued mail and events reach the test soon after their request:
		// on PostgreSQL at once (LISTEN/NOTIFY), on SQLite at the next poll.
		// Each poll of each queue parses River's fetch query afresh, which
		// under the race detector (SQLite compiled from C) cost 40 % of
		// the HTTP tests' CPU at 10ms; at 100ms a mail waits at most a
		// tenth of a second longer.
		"USERSVC_JOBS_POLL_INTERVAL": "100ms",
	}, hooks: webhooktest.NewMemory(), clients: oauthclienttest.NewMemory()}
	srv := &Server{Mail: usertest.NewMailbox(), Clock: NewClock(time.Now()), Logs: &Buffer{}}
	for _, o := range opts {
		o(&s)
	}
	s.store(t, kind, srv)
	environ := make([]string, 0, len(s.env))
	for k, v := range s.env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatalf("apptest: configuration: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(srv.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	appOpts := append([]app.Option{app.WithClock(srv.Clock.Now), app.WithNotifier(srv.Mail), app.WithWebhookGuard(loopbackOnly)}, s.opts...)
	a, err := app.New(context.Background(), cfg, log, appOpts...)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	t.Cleanup(func() {
		// The service's background work (password reset mail) ends before
		// the database closes.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := a.Service().Close(ctx); err != nil {
			t.Errorf("apptest: %v", err)
		}
		a.Close()
	})
	srv.App, srv.Handler, srv.Stores = a, a.Handler(), a.Stores()
	srv.kind, srv.env = kind, s.env
	return srv
}

// store readies the store of kind: a fresh PostgreSQL database (a clone
// of storetest's migrated template), a copy of a migrated SQLite file, or
// the fake. A store made here is migrated already: migrating it again on
// start would cost more than the rest of New (goose reads every migration
// each time), so it does not, unless the test sets
// USERSVC_MIGRATE_ON_START. A database or data directory the test names
// is migrated on start as configured.
func (s *setup) store(t testing.TB, kind string, srv *Server) {
	t.Helper()
	made := false
	switch kind {
	case Postgres:
		if _, ok := s.env["DATABASE_URL"]; !ok {
			s.env["DATABASE_URL"], made = storetest.PostgresURL(t), true
		}
	case SQLite:
		made = copySQLiteTemplate(t, s.env["USERSVC_DATA_DIR"])
	case Memory:
		srv.Memory = usertest.NewMemory()
		s.opts = append(s.opts, app.WithStore(memoryStore{m: srv.Memory, hooks: s.hooks, clients: s.clients, passkeys: passkeytest.NewMemory(srv.Memory)}))
		made = true
	}
	if _, ok := s.env["USERSVC_MIGRATE_ON_START"]; made && !ok {
		s.env["USERSVC_MIGRATE_ON_START"] = "false"
	}
}

// copySQLiteTemplate puts a migrated database (storetest.WriteSQLite: a
// copy of a template migrated once per test process) into the data
// directory dir unless it has one, and reports whether it did.
func copySQLiteTemplate(t testing.TB, dir string) bool {
	t.Helper()
	path := filepath.Join(dir, app.SQLiteFile)
	if _, err := os.Stat(path); err == nil {
		return false
	}
	storetest.WriteSQLite(t, path)
	return true
}

// memoryStore serves the fake as an app.Store: it has no signing keys
// (the tests sign with HS256) and no migrations.
type memoryStore struct {
	m       *usertest.Memory
	hooks   *webhooktest.Memory
	clients *oauthclienttest.Memory
	// passkeys are the fake's passkey stores.
	passkeys *passkeytest.Memory
}

// OAuthClients is the fake's client registry: none with NoClients.
func (s memoryStore) OAuthClients() oauthclient.Store {
	if s.clients == nil {
		return nil
	}
	return s.clients
}

// Passkeys are the fake's passkey stores.
func (s memoryStore) Passkeys() passkey.Stores { return s.passkeys.Stores() }

// Webhooks are the fake's webhook stores: none with NoWebhooks.
func (s memoryStore) Webhooks() webhook.Stores {
	if s.hooks == nil {
		return webhook.Stores{}
	}
	return s.hooks.Stores()
}

func (s memoryStore) Stores() user.Stores             { return s.m.Stores() }
func (s memoryStore) SigningKeys() signing.Repository { return nil }
func (s memoryStore) Migrator() (*goose.Provider, error) {
	return nil, errors.New("apptest: the fake has no migrations")
}
func (s memoryStore) Close() error { return nil }

// HasMigrationTable is false: the fake has no migrations.
func (s memoryStore) HasMigrationTable(context.Context) (bool, error) { return false, nil }
func (s memoryStore) AppliedMigrations(context.Context) (map[int64]time.Time, error) {
	return nil, nil
}

// Ping fails while the fake does (SetFail).
func (s memoryStore) Ping(ctx context.Context) error {
	_, err := s.m.Stores().Users.ByID(ctx, uuid.Nil)
	if errors.Is(err, user.ErrNotFound) {
		return nil
	}
	return err
}

// Clock is a time the test moves.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at t's wall time. It drops t's monotonic
// reading: two clocks started apart would otherwise measure the time
// between them by the monotonic clock while the stores keep wall time,
// and on a machine whose wall clock is being slewed (just booted, NTP
// catching up) a replica brought "in step" with another would be
// nanoseconds behind it, short of a signing key the other made at its
// own now.
func NewClock(t time.Time) *Clock { return &Clock{now: t.Round(0)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Buffer is a bytes.Buffer safe for concurrent writers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// loopbackOnly keeps a test's webhooks on this machine: no name is looked
// up (a test's receivers listen on 127.0.0.1) and a connection to any
// address but loopback fails before it is made, whatever endpoint a test
// (or a generated request) registered.
var loopbackOnly = webhook.Guard{Resolver: noDNS{}, BeforeConnect: func(_, address string) error {
	if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("apptest: a webhook to %s would leave this machine", address)
	}
	return nil
}}

// noDNS resolves localhost to loopback and every other name to an error,
// without asking a server.
type noDNS struct{}

func (noDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "localhost" {
		return []netip.Addr{netip.IPv6Loopback(), netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, fmt.Errorf("apptest: no DNS lookups (%s)", host)
}

// RefuseAudit is the storetest.AuditRefuser of prefix on the database s
// runs on (through a handle of its own, closed in t.Cleanup): the tests of
// a change audited in its transaction turn it on and see the change not
// made. Not on the fake, which has no database.
func (s *Server) RefuseAudit(t testing.TB, prefix string) storetest.AuditRefuser {
	t.Helper()
	ctx := context.Background()
	switch s.kind {
	case Postgres:
		db, err := postgres.Open(ctx, s.env["DATABASE_URL"])
		if err != nil {
			t.Fatalf("apptest: open the server's database: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return storetest.RefuseAuditPostgres(t, db, prefix)
	case SQLite:
		db, err := sqlite.Open(ctx, filepath.Join(s.env["USERSVC_DATA_DIR"], app.SQLiteFile))
		if err != nil {
			t.Fatalf("apptest: open the server's database: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return storetest.RefuseAuditSQLite(t, db, prefix)
	}
	t.Fatalf("apptest: RefuseAudit on %s: no database", s.kind)
	return nil
}
