package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/logbuf"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

const usage = `usage: usersvc [command]

commands:
  serve                     run the HTTP service (the default)
  migrate up|down|status    apply, roll back one, or list database migrations
  create-admin --email E --username U [--full-name N]
                            create an administrator (password asked, or
                            read from stdin), or promote that account
  keys rotate|list          add a new token signing key (the old one keeps
                            verifying until its tokens expire), or list them
  healthcheck [URL]         exit 0 when the running service's /healthz answers
                            200 (default URL: from USERSVC_ADDR), 1 otherwise
  version                   print the build version and commit

Settings come from the environment and an optional .env file: see .env.example.
`

// dotenv is the optional settings file read from the working directory.
const dotenv = ".env"

// run is the whole program: main only hands it the process's arguments,
// environment and output. It has no input: see runWithInput.
func run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	return runWithInput(ctx, args, environ, nil, stdout)
}

// runWithInput is run with the process's input, where create-admin reads
// the password (nil: none).
func runWithInput(ctx context.Context, args, environ []string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, environ, stdout)
	case "migrate":
		return migrate(ctx, args, environ, stdout)
	case "keys":
		return keys(ctx, args, environ, stdout)
	case "create-admin":
		return createAdmin(ctx, args, environ, stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, args, environ, stdout)
	case "version":
		_, err := fmt.Fprintf(stdout, "usersvc %s (commit %s)\n", version, commit)
		return err
	case "help", "-h", "-help", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	default:
		return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
}

// store is what both databases offer the program.
type store interface {
	user.Repository
	SigningKeys() signing.Repository
	Migrator() (*goose.Provider, error)
	Close() error
}

// openStore opens PostgreSQL when DATABASE_URL is set, else the embedded
// SQLite file in the data directory.
func openStore(ctx context.Context, cfg config.Config) (store, string, error) {
	if cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		return s, "postgres", err
	}
	s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "usersvc.db"))
	return s, "sqlite", err
}

func serve(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if err := flag.NewFlagSet("serve", flag.ContinueOnError).Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(environ, dotenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	// Log lines leave in the background, several per write under load
	// (logbuf); the deferred Close, the last to run, writes what is left.
	logs := logbuf.New(stdout)
	defer func() { _ = logs.Close() }()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := startPprof(ctx, cfg.PprofAddr, log); err != nil { // off unless USERSVC_PPROF_ADDR is set
		return err
	}

	st, kind, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close database", "error", err)
			return
		}
		log.Info("database closed")
	}()
	if cfg.MigrateOnStart {
		if err := migrateUp(ctx, st, log); err != nil {
			return err
		}
	}
	tk, err := newTokenKeys(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if tk.ring != nil { // see rotations made by other replicas or `usersvc keys rotate`
		go tk.ring.Run(ctx, func(err error) { log.Warn("reload signing keys", "error", err.Error()) })
	}
	m := metrics.New()
	watchPool(m, st)
	prot, err := newProtections(ctx, cfg, environ, m, log)
	if err != nil {
		return err
	}
	defer prot.close()
	notifier, err := newNotifier(cfg, log)
	if err != nil {
		return err
	}
	defer closeNotifier(notifier, cfg.ShutdownTimeout, log) // after serving ends, before the database closes
	opts := slices.Concat(prot.options, sessionOptions(cfg, log), auditOptions(st, log),
		[]user.Option{user.WithNotifier(notifier)}, lifecycleOptions(cfg, log))
	svc := user.NewService(st, m.TimeHasher(prot.hasher), tk.tokens, opts...)
	if err := bootstrapAdmin(ctx, cfg, svc, log); err != nil { // USERSVC_BOOTSTRAP_ADMIN_*
		return err
	}
	handler := httpapi.New(svc, httpapi.Options{
		Logger:       log,
		MaxBodyBytes: cfg.MaxBodyBytes,
		CORSOrigins:  cfg.CORSOrigins,
		Metrics:      m,
		Build:        httpapi.Build{Version: version, Commit: commit},
		Limits:       prot.limits,
		ClientIP:     prot.clientIP,
		JWKS:         tk.jwks,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Start-up garbage (goose's migration parsing buffers, several MB) would
	// otherwise stay in RSS until the runtime's scavenger gets to it.
	debug.FreeOSMemory()
	log.Info("listening", "addr", ln.Addr().String(), "database", kind, "env", cfg.Env, "version", version)
	err = serveUntilDone(ctx, srv, ln, cfg.ShutdownTimeout, log)
	finishBackground(ctx, svc, cfg.ShutdownTimeout, log) // lifecycle.go
	return err
}

// serveUntilDone serves until ctx ends, then stops accepting and gives
// in-flight requests up to grace to finish.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// watchPool publishes the store's connection pool statistics.
func watchPool(m *metrics.Metrics, st store) {
	switch s := st.(type) {
	case *postgres.Users:
		m.WatchPool("postgres", func() metrics.PoolStats {
			p := s.Pool().Stat()
			return metrics.PoolStats{
				InUse: int(p.AcquiredConns()), Idle: int(p.IdleConns()), Max: int(p.MaxConns()),
				WaitCount: p.EmptyAcquireCount(), WaitDuration: p.EmptyAcquireWaitTime(),
			}
		})
	case *sqlite.Users:
		m.WatchPool("sqlite", func() metrics.PoolStats {
			w, r := s.Stats()
			return metrics.PoolStats{
				InUse: w.InUse + r.InUse, Idle: w.Idle + r.Idle, Max: w.MaxOpenConnections + r.MaxOpenConnections,
				WaitCount: w.WaitCount + r.WaitCount, WaitDuration: w.WaitDuration + r.WaitDuration,
			}
		})
	}
}

// healthcheck asks a running usersvc for /healthz, for a container's
// HEALTHCHECK, which has no shell or curl in a distroless image.
func healthcheck(ctx context.Context, args, environ []string, stdout io.Writer) error {
	url := ""
	if len(args) > 0 {
		url = args[0]
	} else {
		cfg, err := config.Load(environ, dotenv)
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("USERSVC_ADDR: %w", err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		url = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, res.Status)
	}
	_, err = fmt.Fprintln(stdout, "ok")
	return err
}

// jwtSecret is the configured secret or, in development, one generated and
// kept in the data directory.
func jwtSecret(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	secret, created, err := config.DevSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.DataDir, config.SecretFile)
	if created {
		log.Warn("USERSVC_JWT_SECRET is not set: generated a development secret; set USERSVC_JWT_SECRET in production", "file", path)
	} else {
		log.Warn("USERSVC_JWT_SECRET is not set: using the development secret", "file", path)
	}
	return secret, nil
}

func migrateUp(ctx context.Context, st store, log *slog.Logger) error {
	p, err := st.Migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path))
	}
	return nil
}

func migrate(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: usersvc migrate up|down|status")
	}
	cfg, err := config.Load(environ, dotenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	st, kind, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	p, err := st.Migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
	switch args[0] {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			fmt.Fprintln(stdout, r)
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			fmt.Fprintf(stdout, "%s: no migrations to apply\n", kind)
		}
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintln(stdout, r)
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, s := range statuses {
			applied := "pending"
			if !s.AppliedAt.IsZero() {
				applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%-8s %s  %s\n", kind, filepath.Base(s.Source.Path), applied)
		}
	default:
		return fmt.Errorf("unknown migrate command %q: want up, down or status", args[0])
	}
	return nil
}
