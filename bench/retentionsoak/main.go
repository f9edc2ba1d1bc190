// Command retentionsoak shows retention keeping the session tables at a
// steady size while usersvc serves logins (issue 25). It builds usersvc,
// starts it on loopback on a throwaway PostgreSQL database or on SQLite in
// a temporary directory, with lifetimes short enough that a day's
// dynamics happen in minutes (sessions that live -lifetime, kept
// -session-retention after they end, retention every -interval), and
// drives a soak for -duration: -rate logins a second, each session
// refreshed -refreshes times -gap apart and then logged out, except one in
// -abandon-every, which is left to expire. Every -sample it counts the
// rows of sessions, refresh_tokens and audit_events, reads the retention
// metrics of /metrics and the load average, and at the end prints the
// table, the request rate, the logins' p50/p99 and a verdict: after the
// warm-up (lifetime + retention + interval) the two session tables stay
// within ±-band of their mean over the steady part, and their oldest row
// is never older than lifetime + retention + interval (+ -slack).
//
// It runs 15 minutes by default: with the configuration's minimums
// (lifetime 5m, interval 1m) and 2m of retention the warm-up is 8 minutes,
// and the verdict needs several minutes of steady samples after it.
//
// The audit log's retention cannot be shorter than 24h
// (USERSVC_AUDIT_RETENTION), so audit_events grows during a soak: the
// command reports its growth per minute.
//
//	go run ./bench/retentionsoak -store postgres
//	go run ./bench/retentionsoak -store sqlite -duration 20m
//
// Run it from the repository root (it builds ./cmd/usersvc, unless -bin).
// The database it makes is named usersvc_soak_<unix time> and dropped at
// the end; the exit status is 1 when the verdict fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	store       string
	server      string
	bin         string
	duration    time.Duration
	sample      time.Duration
	users       int
	rate        float64
	refreshes   int
	gap         time.Duration
	abandon     int
	lifetime    time.Duration
	retention   time.Duration
	interval    time.Duration
	cost        int
	band        float64
	slack       time.Duration
	maxInFlight int
}

func main() {
	var o options
	flag.StringVar(&o.store, "store", "postgres", "postgres or sqlite")
	flag.StringVar(&o.server, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "URL of a PostgreSQL server database whose user may create the throwaway database")
	flag.StringVar(&o.bin, "bin", "", "a usersvc binary to run instead of building ./cmd/usersvc")
	flag.DurationVar(&o.duration, "duration", 15*time.Minute, "how long the soak drives logins")
	flag.DurationVar(&o.sample, "sample", 20*time.Second, "time between two samples of the tables")
	flag.IntVar(&o.users, "users", 200, "users that log in, in turn")
	flag.Float64Var(&o.rate, "rate", 4, "logins a second")
	flag.IntVar(&o.refreshes, "refreshes", 2, "refreshes of each session")
	flag.DurationVar(&o.gap, "gap", 10*time.Second, "time between a session's login, refreshes and logout")
	flag.IntVar(&o.abandon, "abandon-every", 3, "one session in this many is never logged out and expires (0: every session logs out)")
	flag.DurationVar(&o.lifetime, "lifetime", 5*time.Minute, "USERSVC_REFRESH_TOKEN_TTL and USERSVC_SESSION_MAX_AGE (at least 5m)")
	flag.DurationVar(&o.retention, "session-retention", 2*time.Minute, "USERSVC_SESSION_RETENTION")
	flag.DurationVar(&o.interval, "interval", time.Minute, "USERSVC_RETENTION_INTERVAL (at least 1m)")
	flag.IntVar(&o.cost, "cost", 4, "USERSVC_BCRYPT_COST (4: the database, not hashing, is what the soak loads)")
	flag.Float64Var(&o.band, "band", 0.2, "how far (a fraction of their steady mean) the steady counts may stray")
	flag.DurationVar(&o.slack, "slack", 30*time.Second, "time allowed beyond lifetime + retention + interval for a retention run and a sample")
	flag.IntVar(&o.maxInFlight, "max-sessions-in-flight", 1000, "sessions driven at once at most: a login due beyond it is skipped (and counted)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "retentionsoak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run starts usersvc, drives the soak while sampling, prints the report
// and says whether the verdict passed.
func run(ctx context.Context, o options, out io.Writer) (bool, error) {
	if o.store != "postgres" && o.store != "sqlite" {
		return false, fmt.Errorf("-store must be postgres or sqlite, got %q", o.store)
	}
	if o.rate <= 0 || o.users < 1 || o.sample <= 0 || o.duration <= 0 {
		return false, errors.New("-rate, -users, -sample and -duration must be positive")
	}
	work, err := os.MkdirTemp("", "usersvc-soak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(work)
	srv, err := start(ctx, o, work)
	if err != nil {
		return false, err
	}
	defer srv.stop()
	fmt.Fprintf(out, "retentionsoak: usersvc on %s (%s), lifetime %s, session retention %s, retention every %s; %g logins/s for %s, %d users, %d refreshes %s apart, 1 in %d sessions abandoned; load average %s\n",
		o.store, srv.base, o.lifetime, o.retention, o.interval, o.rate, o.duration, o.users, o.refreshes, o.gap, o.abandon, loadAvg())
	if err := register(ctx, srv.base, o.users); err != nil {
		return false, err
	}
	fmt.Fprintln(os.Stderr, header)
	samples, stats, err := soak(ctx, o, srv, os.Stderr) // the table as it grows; report prints it whole
	if err != nil {
		return false, err
	}
	v := judge(samples, verdictParams{
		warmup:   o.lifetime + o.retention + o.interval,
		bound:    o.lifetime + o.retention + o.interval + o.slack,
		band:     o.band,
		duration: o.duration,
		runs:     srv.retentionRuns(),
		wantRuns: int(o.duration/o.interval) - 1,
	})
	report(out, o, samples, stats, v)
	return v.ok, nil
}
