package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/logbuf"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/webhook"
)

const usage = `usage: usersvc [command] [flags]

commands:
  serve                     run the HTTP service (the default)
  migrate up|down|status    apply, roll back one, or list database migrations
                            (down --yes: also one whose Down destroys data)
  create-admin --email E --username U [--full-name N]
                            create an administrator (password asked, or
                            read from stdin), or promote that account
  keys rotate [--now]       add a token signing key: published at once, signing
                            after USERSVC_KEY_PUBLISH_DELAY (--now: at once);
                            the old one verifies until its tokens expire
  keys retire KID           withdraw a key at once (it leaked)
  keys list                 list the keys and their states
  keys reseal               seal everything sealed again under
                            USERSVC_KEY_ENCRYPTION_KEY (after changing it)
  audit prune --before DATE|--older-than AGE [--dry-run]
                            remove old audit events (recorded as such)
  retention run [--dry-run] remove now what the retention settings let go (the
                            service does it every USERSVC_RETENTION_INTERVAL),
                            or only print how many rows per table would go
  webhooks list|create|delete
                            manage webhook endpoints without an admin token
                            (usersvc webhooks --help)
  clients list|create|delete|rotate-secret
                            manage OAuth clients and service accounts without
                            an admin token (usersvc clients --help)
  healthcheck [URL]         exit 0 when the running service's /healthz answers
                            200 (default URL: from USERSVC_ADDR), 1 otherwise
  version                   print the build version and commit
  help [command]            print this, or a command's help (as --help does)

Every command answers -h and --help with its flags and the variables it
reads. Settings come from the environment and an optional .env file: see
.env.example.
`

// dotenv is the optional settings file read from the working directory.
const dotenv = ".env"

// loadConfig loads the settings of a subcommand that does not serve and
// prints what the operator must hear about (an override in use, an
// unknown variable) to stderr, never into the output scripts read; serve
// logs them instead (app.New).
func loadConfig(environ []string, stderr io.Writer) (config.Config, error) {
	cfg, err := config.Load(environ, dotenv)
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration:\n%w", err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return cfg, nil
}

// commandLog is the log of a command other than serve: its warnings (a
// development key in use, say) as text on stderr, without the time; the
// rest is what the command prints.
func commandLog(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// run is the whole program without input and with its warnings dropped:
// see runWithStreams, which main calls.
func run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	return runWithStreams(ctx, args, environ, nil, stdout, io.Discard)
}

// runWithStreams is the whole program: main only hands it the process's
// arguments, environment, input (where create-admin reads the password;
// nil: none), output, and stderr for the warnings a command prints
// besides its output (run's error is main's to print).
func runWithStreams(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, environ, stdout)
	case "migrate":
		return migrate(ctx, args, environ, stdout, stderr)
	case "keys":
		return keys(ctx, args, environ, stdout, stderr)
	case "create-admin":
		return createAdmin(ctx, args, environ, stdin, stdout, stderr)
	case "audit":
		return audit(ctx, args, environ, stdout, stderr)
	case "webhooks":
		return webhooksCmd(ctx, args, environ, stdout, stderr)
	case "clients":
		return clientsCmd(ctx, args, environ, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, environ, stdout)
	case "retention":
		return retentionCmd(ctx, args, environ, stdout, stderr)
	case "version":
		return printVersion(args, stdout)
	case "help", "-h", "-help", "--help":
		return help(args, stdout)
	default:
		return &usageError{err: fmt.Errorf("unknown command %q", cmd), usage: usage}
	}
}

// help prints the usage of usersvc, or with a command's name that
// command's help.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	c, ok := commands()[args[0]]
	if !ok {
		return &usageError{err: fmt.Errorf("help: unknown command %q", args[0]), usage: usage}
	}
	_, err := io.WriteString(stdout, c.help(flagsOf(c)))
	return err
}

// flagsOf returns the flags c defines (into variables that are dropped),
// for its help.
func flagsOf(c command) *flag.FlagSet {
	switch c.name {
	case createAdminHelp.name:
		fs, _ := createAdminFlags()
		return fs
	case auditPruneHelp.name:
		fs, _ := auditPruneFlags()
		return fs
	case migrateHelp.name:
		fs, _ := migrateFlags()
		return fs
	case keysHelp.name:
		fs, _ := keysFlags()
		return fs
	case retentionHelp.name:
		fs, _ := retentionFlags()
		return fs
	case webhooksHelp.name:
		return webhooksFlags(&webhook.NewEndpoint{}, new(string), new(string))
	case clientsHelp.name:
		return clientsFlags(&clientsArgs{})
	}
	return flag.NewFlagSet(c.name, flag.ContinueOnError)
}

// printVersion runs `usersvc version`.
func printVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if more, done, err := versionHelp.parse(fs, args, stdout); done || err != nil {
		return err
	} else if len(more) > 0 {
		return versionHelp.misuse(fs, "version takes no arguments")
	}
	_, err := fmt.Fprintf(stdout, "usersvc %s (commit %s)\n", version, commit)
	return err
}

func serve(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if more, done, err := serveHelp.parse(fs, args, stdout); done || err != nil {
		return err
	} else if len(more) > 0 {
		return serveHelp.misuse(fs, "serve takes no arguments, got %q", more[0])
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
	defer defaultLog(log.Handler())() // before the logs' Close, after the app's
	a, err := app.New(ctx, cfg, log, app.WithBuild(httpapi.Build{Version: version, Commit: commit}))
	if err != nil {
		return err
	}
	defer a.Close() // after serving ends: mail delivered, then the database closed
	spareProcessor(a.HashSlots(), environ, log)
	// Start-up garbage (goose's migration parsing buffers, several MB) would
	// otherwise stay in RSS until the runtime's scavenger gets to it.
	debug.FreeOSMemory()
	return a.Run(ctx)
}

// defaultLog makes h, through oidcop.QuietRefusals, the handler of slog's
// default logger and of the log package's while serving, and returns
// what puts the previous ones back. zitadel's op logs only there (it
// ignores a logger it is given): its lines join the service's log at its
// level, and its WARN for each authorization request the provider refuses
// becomes the provider's one INFO line.
func defaultLog(h slog.Handler) (restore func()) {
	prev, w, flags := slog.Default(), stdlog.Writer(), stdlog.Flags()
	slog.SetDefault(slog.New(oidcop.QuietRefusals(h)))
	return func() { slog.SetDefault(prev); stdlog.SetOutput(w); stdlog.SetFlags(flags) }
}

// spareProcessor lets Go run one goroutine more than there are hashing
// slots (GOMAXPROCS = slots + 1), unless GOMAXPROCS is set in the
// environment. With every slot hashing, a cheap request then runs at once
// on the spare processor and the kernel shares the cores, instead of
// waiting for the Go scheduler to preempt a hash (up to 10 ms per wait).
// A login flood keeps the hashing threads busy either way.
func spareProcessor(slots int, environ []string, log *slog.Logger) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return
		}
	}
	if runtime.GOMAXPROCS(0) <= slots {
		runtime.GOMAXPROCS(slots + 1)
		log.Debug("GOMAXPROCS raised to leave a processor to requests that do not hash", "gomaxprocs", slots+1)
	}
}

// healthcheck asks a running usersvc for /healthz, for a container's
// HEALTHCHECK, which has no shell or curl in a distroless image.
func healthcheck(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	more, done, err := healthcheckHelp.parse(fs, args, stdout)
	if done || err != nil {
		return err
	}
	if len(more) > 1 {
		return healthcheckHelp.misuse(fs, "healthcheck takes at most one URL")
	}
	url := ""
	if len(more) == 1 {
		url = more[0]
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

// migrateFlags defines the flags of migrate: --yes, for down.
func migrateFlags() (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	return fs, fs.Bool("yes", false, "down: undo the migration even when its Down destroys what cannot be made again (docs/deploy.md, \"Irreversible migrations\")")
}

func migrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs, yes := migrateFlags()
	verb, done, err := migrateHelp.parseVerb(fs, args, stdout, "up", "down", "status")
	if done || err != nil {
		return err
	}
	if verb != "down" && *yes {
		return migrateHelp.misuse(fs, "migrate %s takes no --yes", verb)
	}
	cfg, err := loadConfig(environ, stderr)
	if err != nil {
		return err
	}
	db, kind, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	switch verb {
	case "down":
		return migrateDown(ctx, db, fs, *yes, stdout)
	case "status":
		return migrateStatus(ctx, db, kind, stdout, stderr)
	}
	p, err := db.Migrator()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer p.Close()
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
	return nil
}

// migrateDown undoes the latest migration; one whose Down destroys what
// cannot be made again only with --yes (confirmed): without, the refusal
// says what would be lost and exits 2, as a refused value does.
func migrateDown(ctx context.Context, db app.Store, fs *flag.FlagSet, confirmed bool, stdout io.Writer) error {
	r, err := app.MigrateDown(ctx, db, confirmed)
	if lossy, ok := errors.AsType[*app.LossyDownError](err); ok {
		return migrateHelp.misuse(fs, "migrate down: refused: %v.\nNothing was changed. To undo %s all the same, run `usersvc migrate down --yes`",
			lossy, lossy.Migration)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, r)
	return err
}

// migrateStatus prints each migration, applied or pending, and those a
// newer release applied, which this binary does not know, marked so; the
// warning that the database is ahead of this binary goes to stderr.
func migrateStatus(ctx context.Context, db app.Store, kind string, stdout, stderr io.Writer) error {
	states, err := app.MigrationStatus(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	var unknown []string
	for _, m := range states {
		name, state := m.File, "pending"
		if m.Unknown() {
			name = fmt.Sprintf("%05d", m.Version)
			unknown = append(unknown, name)
		}
		if m.Applied {
			state = "applied"
			if !m.AppliedAt.IsZero() {
				state += " " + m.AppliedAt.UTC().Format(time.RFC3339)
			}
		}
		if m.Unknown() {
			state += "  unknown to this binary: a newer release's migration"
		}
		fmt.Fprintf(stdout, "%-8s %s  %s\n", kind, name, state)
	}
	if len(unknown) > 0 {
		fmt.Fprintf(stderr, "warning: the database has migrations this binary does not know (%s): a newer release migrated it; "+
			"this binary runs on that schema only as the release before it (docs/deploy.md, \"Migrations across a blue/green switch\")\n",
			strings.Join(unknown, ", "))
	}
	return nil
}
