// Command growth measures what a year of history costs usersvc on
// PostgreSQL (issue 25): it makes two databases with the same users, loads
// history (sessions with their refresh tokens, audit events, spread over
// -days) into one, and measures side by side, in one run:
//
//   - logins/s through user.Service (a session, a refresh token and an
//     audit event written per login, in one transaction; bcrypt at cost 4
//     so that the database, not hashing, is what is measured), in rounds,
//     the two databases taking turns;
//   - the administrators' audit query for windows 1, 30 and 180 days wide
//     ending -window-age back, in id order (the release before migration
//     00022) and in (at, id) order (this one), and the plans of both;
//   - the search of users by email prefix;
//   - one retention pass over the history (rows removed per second);
//   - the bytes per row of each table, indexes included.
//
// Each round of logins is printed as well as the totals (a long run shows
// the history database's cost as the server settles). With -reuse and
// -retention-only it runs the retention pass alone and vacuums after it,
// leaving the history database in the steady state a year of traffic
// keeps with retention on, to be measured by the next -reuse run.
//
// The history loads fast enough for tens of millions of rows (loadHistory);
// the load average is printed with the load and the figures. It drops both
// databases at the end (unless -keep).
//
//	go run ./bench/growth -postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	    -users 100000 -sessions 1000000 -audit 1000000
//
// With -sqlite DIR it measures SQLite instead (sqlite.go): the two
// databases are files in a new folder in DIR, opened and migrated as the
// service does, and the same rows are printed, with SQLite's plans (EXPLAIN
// QUERY PLAN) and sizes (the dbstat table). -load-only, -reuse and -pool
// are PostgreSQL only.
//
//	go run ./bench/growth -sqlite /tmp -users 200000 -sessions 3000000 -audit 3000000
package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// options are the command's flags.
type options struct {
	server                 string
	users, sessions, audit int
	days                   int
	logins, concurrency    int
	queries                int
	windowAge              time.Duration
	sessionRetention       time.Duration
	keep, skipRetention    bool
	loadOnly               bool
	reuse                  string
	pool                   int
	rounds                 int
	queryBudget            time.Duration
	sqlite                 string
	retentionBudget        time.Duration
	warmup                 int
	loginsOnly             bool
	retentionOnly          bool
}

func main() {
	var o options
	flag.StringVar(&o.server, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "URL of a PostgreSQL server database the two bench databases are created from")
	flag.IntVar(&o.users, "users", 100_000, "users in both databases")
	flag.IntVar(&o.sessions, "sessions", 1_000_000, "sessions of history (each with one refresh token)")
	flag.IntVar(&o.audit, "audit", 1_000_000, "audit events of history")
	flag.IntVar(&o.days, "days", 365, "days the history spans, ending now")
	flag.IntVar(&o.logins, "logins", 3000, "logins measured on each database")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent logins")
	flag.IntVar(&o.queries, "queries", 200, "repetitions of each query")
	flag.DurationVar(&o.queryBudget, "query-budget", 20*time.Second, "time after which a query is repeated no more (at least 5 times)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of logins, the databases taking turns")
	flag.DurationVar(&o.windowAge, "window-age", 180*24*time.Hour, "how far back the admin audit query's windows (1, 30 and 180 days wide) end")
	flag.DurationVar(&o.sessionRetention, "session-retention", 30*24*time.Hour, "USERSVC_SESSION_RETENTION of the retention pass")
	flag.BoolVar(&o.keep, "keep", false, "keep the databases")
	flag.BoolVar(&o.loadOnly, "load-only", false, "load both databases, print their suffix and keep them, without measuring (for -reuse)")
	flag.StringVar(&o.reuse, "reuse", "", "measure the two databases an earlier -load-only run kept, named by the suffix it printed, instead of loading")
	flag.BoolVar(&o.skipRetention, "skip-retention", false, "do not run the retention pass")
	flag.IntVar(&o.pool, "pool", 0, "pool_max_conns of the service's pool (0: the service's default, 8)")
	flag.StringVar(&o.sqlite, "sqlite", "", "measure SQLite instead: the two databases are files in a new folder in this directory (\"\": PostgreSQL; -load-only, -reuse and -pool are PostgreSQL only)")
	flag.DurationVar(&o.retentionBudget, "retention-budget", 0, "stop the retention pass after this long and report the rate so far (0: run it to the end)")
	flag.IntVar(&o.warmup, "warmup", 0, "logins on each database before the measured rounds, not counted (a server just restarted has cold caches)")
	flag.BoolVar(&o.loginsOnly, "logins-only", false, "measure the logins alone: no queries, plans, sizes or retention pass")
	flag.BoolVar(&o.retentionOnly, "retention-only", false, "run the retention pass alone on the history database, then VACUUM ANALYZE what it removed from, with the sizes before and after (PostgreSQL; with -reuse, the steady state a year of traffic keeps)")
	flag.Parse()
	do := run
	if o.sqlite != "" {
		do = runSQLite
	}
	if err := do(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "growth:", err)
		os.Exit(1)
	}
}

// serviceDeps are what both databases' user.Service is made of.
type serviceDeps struct {
	cfg    config.Config
	hasher user.Hasher
	hash   string // of password
	tokens user.Tokens
}

// newServiceDeps is the configuration of the bench's services: bcrypt at
// cost 4, so that the database, not hashing, is what is measured.
func newServiceDeps() (serviceDeps, error) {
	cfg, err := config.Load([]string{"USERSVC_BCRYPT_COST=4"}, "")
	if err != nil {
		return serviceDeps{}, err
	}
	hasher, err := app.PasswordHasher(cfg)
	if err != nil {
		return serviceDeps{}, err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return serviceDeps{}, err
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("growth-bench-secret-", 3)), "usersvc", time.Hour, time.Now)
	if err != nil {
		return serviceDeps{}, err
	}
	return serviceDeps{cfg: cfg, hasher: hasher, hash: hash, tokens: tokens}, nil
}

// bench is one of the two databases.
type bench struct {
	name string
	url  string
	db   *postgres.DB // PostgreSQL mode
	lite *sqlite.DB   // SQLite mode (sqlite.go)
	path string       // SQLite mode: the database file
	raw  *sql.DB      // SQLite mode: a connection of the bench's own, for plans, sizes and picking a subject
	svc  *user.Service
}

// ioCost is what PostgreSQL counts of a database's work: WAL bytes
// written (by the whole server: the two databases' logins take turns, so
// a round's WAL is its database's) and blocks read from outside
// shared_buffers (the page cache or the disk).
type ioCost struct{ wal, read int64 }

func (c ioCost) add(d ioCost) ioCost { return ioCost{c.wal + d.wal, c.read + d.read} }
func (c ioCost) sub(d ioCost) ioCost { return ioCost{c.wal - d.wal, c.read - d.read} }

// ioCost reads b's counters now; zero in SQLite mode or on an error (the
// figures are then missing, the run goes on). The statistics collector
// lags a little, which a round of hundreds of logins makes small.
func (b *bench) ioCost(ctx context.Context) ioCost {
	var c ioCost
	if b.db == nil {
		return c
	}
	const q = `SELECT (pg_current_wal_lsn() - '0/0')::bigint, blks_read FROM pg_stat_database WHERE datname = current_database()`
	if err := b.db.Pool().QueryRow(ctx, q).Scan(&c.wal, &c.read); err != nil {
		return ioCost{}
	}
	return c
}

// serverSettings is "name value, ..." of the server settings that decide
// what a login's writes into large indexes cost (docs/benchmarks.md,
// "Logins at 50M"): every run prints them, so that its figures say what
// they were measured on.
func serverSettings(ctx context.Context, b *bench) string {
	const q = `SELECT string_agg(n || ' ' || current_setting(n), ', ' ORDER BY o)
		FROM unnest(ARRAY['shared_buffers', 'huge_pages', 'max_wal_size', 'checkpoint_timeout',
			'wal_compression', 'full_page_writes']) WITH ORDINALITY AS s (n, o)`
	var s string
	if err := b.db.Pool().QueryRow(ctx, q).Scan(&s); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// stores are the service's ports of b.
func (b *bench) stores() user.Stores {
	if b.lite != nil {
		return b.lite.Stores()
	}
	return b.db.Stores()
}

func run(ctx context.Context, o options, out io.Writer) error {
	admin, err := pgx.Connect(ctx, o.server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	suffix := cmp.Or(o.reuse, fmt.Sprintf("%d", time.Now().Unix()))
	keep := o.keep || o.loadOnly || o.reuse != ""
	deps, err := newServiceDeps()
	if err != nil {
		return err
	}
	cfg, hasher, hash, tokens := deps.cfg, deps.hasher, deps.hash, deps.tokens
	now := time.Now().UTC().Truncate(time.Microsecond)
	var dbs []*bench
	defer func() {
		for _, b := range dbs {
			b.db.Close()
			if !keep {
				_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{b.name}.Sanitize()+" WITH (FORCE)")
			}
		}
	}()
	for _, kind := range []string{"empty", "history"} {
		b := &bench{name: "usersvc_growth_" + kind + "_" + suffix}
		if o.reuse == "" {
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{b.name}.Sanitize()); err != nil {
				return fmt.Errorf("create %s: %w", b.name, err)
			}
		}
		u, err := url.Parse(o.server)
		if err != nil {
			return err
		}
		u.Path = "/" + b.name
		if o.pool > 0 {
			q := u.Query()
			q.Set("pool_max_conns", fmt.Sprint(o.pool))
			u.RawQuery = q.Encode()
		}
		b.url = u.String()
		if b.db, err = postgres.Open(ctx, b.url); err != nil {
			return err
		}
		dbs = append(dbs, b)
		// A kept database is measured as it was loaded: a build with
		// newer migrations does not change it first.
		if o.reuse == "" {
			if _, err := app.Migrate(ctx, b.db); err != nil {
				return err
			}
		}
		b.svc = user.NewService(user.Deps{Stores: b.db.Stores(), Hasher: hasher, Tokens: tokens, Log: slog.New(slog.DiscardHandler)}, app.Policy(cfg))
		if o.reuse != "" {
			continue
		}
		start := time.Now()
		if err := loadUsers(ctx, b.db, o.users, hash, now.AddDate(0, 0, -o.days)); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d users loaded in %s\n", kind, o.users, time.Since(start).Round(time.Millisecond))
		if kind == "history" {
			start = time.Now()
			if err := loadHistory(ctx, b.db, o, now, out); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %d sessions, %d refresh tokens, %d audit events over %d days loaded in %s\n",
				kind, o.sessions, o.sessions, o.audit, o.days, time.Since(start).Round(time.Millisecond))
		}
		if _, err := b.db.Pool().Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return err
		}
	}
	if o.loadOnly {
		fmt.Fprintf(out, "loaded and kept: measure with -reuse %s\n", suffix)
		return nil
	}
	if o.retentionOnly {
		return retentionOnly(ctx, dbs[1], o, out)
	}
	day, err := measure(ctx, dbs, o, now, out)
	if err != nil || o.loginsOnly {
		return err
	}
	if err := plans(ctx, dbs[1], day, out); err != nil {
		return err
	}
	if err := sizes(ctx, dbs[1], out); err != nil {
		return err
	}
	if !o.skipRetention {
		return retentionPass(ctx, dbs[1].db.Purge(), o, out)
	}
	return nil
}

// measure runs, on dbs (empty, history), the logins in interleaved rounds
// and the queries, prints their table, and returns the day the audit
// windows end.
func measure(ctx context.Context, dbs []*bench, o options, now time.Time, out io.Writer) (time.Time, error) {
	fmt.Fprintf(out, "load average before measuring: %s\n", benchkit.LoadAverage())
	if dbs[0].db != nil {
		fmt.Fprintf(out, "server: %s\n", serverSettings(ctx, dbs[0]))
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measure\tempty\thistory\tratio\t")
	for _, b := range dbs {
		if o.warmup > 0 {
			if _, err := logins(ctx, b, o, o.warmup); err != nil {
				return time.Time{}, err
			}
		}
	}
	// Logins in rounds, the two databases taking turns, so that a change
	// of the machine's load meets both alike.
	var (
		took [2]time.Duration
		cost [2]ioCost
	)
	// Each round's rates and WAL are printed too: over a long run they show
	// the history database's cost as the server settles (pages written
	// again before the next checkpoint log no full image).
	per := o.logins / o.rounds
	for r := range o.rounds {
		var round [2]time.Duration
		var wal [2]int64
		for i, b := range dbs {
			before := b.ioCost(ctx)
			d, err := logins(ctx, b, o, per)
			if err != nil {
				return time.Time{}, err
			}
			c := b.ioCost(ctx).sub(before)
			took[i] += d
			round[i] = d
			wal[i] = c.wal
			cost[i] = cost[i].add(c)
		}
		rate := func(i int) float64 { return float64(per) / round[i].Seconds() }
		if dbs[0].db == nil { // SQLite: no WAL counter
			fmt.Fprintf(w, "round %d: logins/s\t%.0f\t%.0f\t%.2f\t\n", r+1, rate(0), rate(1), rate(1)/rate(0))
			continue
		}
		kB := func(i int) float64 { return float64(wal[i]) / float64(per) / 1e3 }
		fmt.Fprintf(w, "round %d: logins/s, WAL per login\t%.0f, %.1f kB\t%.0f, %.1f kB\t%.2f\t\n", r+1, rate(0), kB(0), rate(1), kB(1), rate(1)/rate(0))
	}
	n := float64(per * o.rounds)
	rate := func(i int) float64 { return n / took[i].Seconds() }
	fmt.Fprintf(w, "logins/s (%d rounds)\t%.0f\t%.0f\t%.2f\t\n", o.rounds, rate(0), rate(1), rate(1)/rate(0))
	if dbs[0].db != nil {
		fmt.Fprintf(w, "WAL per login\t%.1f kB\t%.1f kB\t\t\n", float64(cost[0].wal)/n/1e3, float64(cost[1].wal)/n/1e3)
		fmt.Fprintf(w, "blocks read (not in shared_buffers) per login\t%.1f\t%.1f\t\t\n", float64(cost[0].read)/n, float64(cost[1].read)/n)
	}
	day := now.Add(-o.windowAge)
	if o.loginsOnly {
		fmt.Fprintf(w, "load average after measuring\t%s\t\t\t\n", benchkit.LoadAverage())
		return day, w.Flush()
	}
	window := func(width time.Duration, byTime bool) func(ctx context.Context, b *bench) error {
		return func(ctx context.Context, b *bench) error {
			_, err := b.stores().Audit.Events(ctx, user.AuditFilter{Since: day.Add(-width), Until: day, ByTime: byTime, Limit: user.DefaultAuditPage + 1})
			return err
		}
	}
	type query struct {
		name string
		do   func(ctx context.Context, b *bench) error
	}
	var queries []query
	for _, width := range []struct {
		name string
		d    time.Duration
	}{{"1-day", 24 * time.Hour}, {"30-day", 30 * 24 * time.Hour}, {"180-day", 180 * 24 * time.Hour}} {
		queries = append(queries,
			query{"audit " + width.name + " window, id order (before)", window(width.d, false)},
			query{"audit " + width.name + " window, (at, id) order (after)", window(width.d, true)})
	}
	queries = append(queries,
		query{"audit 30-day window, page 2 (after)", func(ctx context.Context, b *bench) error {
			f := user.AuditFilter{Since: day.Add(-30 * 24 * time.Hour), Until: day, ByTime: true, Limit: user.DefaultAuditPage + 1}
			first, err := b.stores().Audit.Events(ctx, f)
			if err != nil || len(first) < f.Limit {
				return err
			}
			f.BeforeAt, f.BeforeID = first[len(first)-2].At, first[len(first)-2].ID
			_, err = b.stores().Audit.Events(ctx, f)
			return err
		}},
		query{"audit one account, all time (after)", func(ctx context.Context, b *bench) error {
			_, err := b.stores().Audit.Events(ctx, user.AuditFilter{SubjectID: subjectOf(ctx, b), ByTime: true, Limit: user.DefaultAuditPage + 1})
			return err
		}},
		query{"user search by email prefix", func(ctx context.Context, b *bench) error {
			_, err := b.stores().Users.List(ctx, user.ListQuery{Filter: user.Filter{EmailPrefix: fmt.Sprintf("user%d", rand.IntN(o.users))}, Limit: 50})
			return err
		}})
	for _, q := range queries {
		var p [2][2]time.Duration
		var n [2]int
		for i, b := range dbs {
			var err error
			if p[i][0], p[i][1], n[i], err = latency(ctx, b, o.queries, o.queryBudget, q.do); err != nil {
				return time.Time{}, fmt.Errorf("%s: %w", q.name, err)
			}
		}
		fmt.Fprintf(w, "%s p50 / p95 (n)\t%s / %s (%d)\t%s / %s (%d)\t\t\n", q.name, ms(p[0][0]), ms(p[0][1]), n[0], ms(p[1][0]), ms(p[1][1]), n[1])
	}
	fmt.Fprintf(w, "load average after measuring\t%s\t\t\t\n", benchkit.LoadAverage())
	return day, w.Flush()
}

// windowAudit is the admin audit query for a window, its ORDER BY replaced
// by the one of each store's query shape (plans).
const windowAudit = `
	SELECT id, at, kind, actor_id, subject_id, ip, user_agent, request_id, detail FROM audit_events
	WHERE at >= $1 AND at < $2 ORDER BY id DESC LIMIT 51`

// password is every bench user's password.
const password = "bench-password"

// loadUsers inserts n users, user<i>@example.com, created over the span
// before now.
func loadUsers(ctx context.Context, db *postgres.DB, n int, hash string, from time.Time) error {
	const q = `
		INSERT INTO users (email, username, hashed_password, created_at, updated_at)
		SELECT 'user' || i || '@example.com', 'user' || i, $2, t, t
		FROM generate_series(1, $1) AS i, LATERAL (SELECT $3::timestamptz + (now() - $3::timestamptz) * i / $1 AS t) AS c`
	_, err := db.Pool().Exec(ctx, q, n, hash, from)
	return err
}

// loadChunk is how many rows one statement of the history load inserts:
// each is a short transaction, and the load reports its progress.
const loadChunk = 1_000_000

// loadHistory inserts o.sessions sessions of random users (each with one
// refresh token), most expired or revoked, and o.audit audit events, spread
// evenly over the o.days before now, in the order time made them. It is
// built for tens of millions of rows on a small machine: the secondary
// indexes of the three tables are dropped first and built again at the
// end (one sort each instead of a random insert per row and index), the
// foreign keys and triggers are not run (session_replication_role =
// replica: the rows are made consistent), commits do not wait for the
// WAL, and the sessions (then their tokens) and the audit events load on
// two connections side by side, in chunks of loadChunk rows. The rows go
// into the primary keys in key order, as the service's own do: session ids
// begin with their creation time in milliseconds (the service makes
// UUIDv7s) and the refresh tokens are inserted sorted by hash, so that
// each key lands on the rightmost page instead of a random one.
func loadHistory(ctx context.Context, db *postgres.DB, o options, now time.Time, out io.Writer) error {
	from := now.AddDate(0, 0, -o.days)
	tables := []string{"sessions", "refresh_tokens", "audit_events"}
	indexes, err := dropIndexes(ctx, db, tables)
	if err != nil {
		return err
	}
	const sessions = `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, authenticated_at)
		SELECT encode(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send((extract(epoch FROM c.t) * 1000)::bigint) FROM 3 FOR 6) FROM 1 FOR 6), 'hex')::uuid,
		       u.id, c.t, c.t, c.t + interval '90 days',
		       CASE WHEN i % 3 = 0 THEN c.t + interval '1 day' END, 'Mozilla/5.0 (bench)', '192.0.2.1', c.t
		FROM generate_series($5::bigint, $6::bigint) AS i
		JOIN bench_users AS u ON u.n = (i * 7919) % $4
		CROSS JOIN LATERAL (SELECT $2::timestamptz + ($3::timestamptz - $2::timestamptz) * (i::float8 / $1) AS t) AS c`
	//nolint:gosec // SQL, no credential
	const tokens = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		SELECT sha256(s.id::text::bytea), s.id, s.created_at, s.created_at + interval '30 days' FROM sessions s ORDER BY 1`
	const audit = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		SELECT c.t, (ARRAY['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'session.revoked'])[1 + i % 4],
		       u.id, u.id, '192.0.2.1', 'Mozilla/5.0 (bench)', 'req-' || i,
		       jsonb_build_object('session_id', gen_random_uuid()::text)
		FROM generate_series($5::bigint, $6::bigint) AS i
		JOIN bench_users AS u ON u.n = (i * 104729) % $4
		CROSS JOIN LATERAL (SELECT $2::timestamptz + ($3::timestamptz - $2::timestamptz) * (i::float8 / $1) AS t) AS c`
	const numbered = `
		CREATE UNLOGGED TABLE IF NOT EXISTS bench_users AS SELECT id, row_number() OVER () - 1 AS n FROM users;
		CREATE UNIQUE INDEX IF NOT EXISTS bench_users_n ON bench_users (n); ANALYZE bench_users`
	if _, err := db.Pool().Exec(ctx, numbered); err != nil {
		return fmt.Errorf("number users: %w", err)
	}
	chunks := func(conn *pgx.Conn, name, q string, total int) error {
		for lo := 1; lo <= total; lo += loadChunk {
			hi := min(lo+loadChunk-1, total)
			start := time.Now()
			if _, err := conn.Exec(ctx, q, total, from, now, o.users, lo, hi); err != nil {
				return fmt.Errorf("load %s %d..%d: %w", name, lo, hi, err)
			}
			fmt.Fprintf(out, "  %s %d..%d in %s (load %s)\n", name, lo, hi, time.Since(start).Round(time.Millisecond), benchkit.LoadAverage())
		}
		return nil
	}
	err = side(ctx, db, []func(*pgx.Conn) error{
		func(c *pgx.Conn) error {
			if err := chunks(c, "sessions", sessions, o.sessions); err != nil {
				return err
			}
			start := time.Now()
			if _, err := c.Exec(ctx, tokens); err != nil {
				return fmt.Errorf("load refresh tokens: %w", err)
			}
			fmt.Fprintf(out, "  refresh tokens in %s (load %s)\n", time.Since(start).Round(time.Millisecond), benchkit.LoadAverage())
			return nil
		},
		func(c *pgx.Conn) error { return chunks(c, "audit events", audit, o.audit) },
	})
	if err != nil {
		return err
	}
	if _, err := db.Pool().Exec(ctx, `DROP TABLE bench_users`); err != nil {
		return err
	}
	start := time.Now()
	next := atomic.Int64{}
	build := func(c *pgx.Conn) error {
		for i := int(next.Add(1)) - 1; i < len(indexes); i = int(next.Add(1)) - 1 {
			if _, err := c.Exec(ctx, indexes[i]); err != nil {
				return fmt.Errorf("%s: %w", indexes[i], err)
			}
		}
		return nil
	}
	if err := side(ctx, db, []func(*pgx.Conn) error{build, build}); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d secondary indexes built in %s (load %s)\n", len(indexes), time.Since(start).Round(time.Millisecond), benchkit.LoadAverage())
	return nil
}

// dropIndexes drops the indexes of tables that back no constraint and
// returns the statements that build them again.
func dropIndexes(ctx context.Context, db *postgres.DB, tables []string) ([]string, error) {
	const q = `
		SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`
	rows, err := db.Pool().Query(ctx, q, tables)
	if err != nil {
		return nil, err
	}
	var names, defs []string
	var name, def string
	_, err = pgx.ForEachRow(rows, []any{&name, &def}, func() error {
		names, defs = append(names, name), append(defs, def)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := db.Pool().Exec(ctx, "DROP INDEX "+pgx.Identifier{n}.Sanitize()); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// side runs each of do on a connection of its own, set up for bulk
// loading, side by side, and returns their errors.
func side(ctx context.Context, db *postgres.DB, do []func(*pgx.Conn) error) error {
	errs := make([]error, len(do))
	var wg sync.WaitGroup
	for i, f := range do {
		wg.Go(func() {
			c, err := db.Pool().Acquire(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Release()
			const bulk = `SET session_replication_role = replica; SET synchronous_commit = off;
				SET maintenance_work_mem = '512MB'; SET work_mem = '64MB'; SET max_parallel_maintenance_workers = 0`
			if _, err := c.Exec(ctx, bulk); err != nil {
				errs[i] = err
				return
			}
			errs[i] = f(c.Conn())
			_, _ = c.Exec(context.WithoutCancel(ctx), "RESET ALL")
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// logins runs n logins of random users on b, o.concurrency at a time,
// and returns how long they took.
func logins(ctx context.Context, b *bench, o options, n int) (time.Duration, error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				name := fmt.Sprintf("user%d", 1+rand.IntN(o.users))
				if _, err := b.svc.Login(ctx, name, password, ""); err != nil {
					fail.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := fail.Load().(error); ok {
		return 0, fmt.Errorf("login on %s: %w", b.name, err)
	}
	return time.Since(start), nil
}

// subjectOf is a random user id of b (the subject of one account's audit).
func subjectOf(ctx context.Context, b *bench) (id [16]byte) {
	if b.raw != nil {
		var s string
		_ = b.raw.QueryRowContext(ctx, `SELECT id FROM users LIMIT 1 OFFSET abs(random()) % 1000`).Scan(&s)
		return uuid.MustParse(s)
	}
	_ = b.db.Pool().QueryRow(ctx, `SELECT id FROM users OFFSET floor(random() * 1000) LIMIT 1`).Scan(&id)
	return id
}

// latency runs do n times, or fewer (at least 5) when they take longer
// than budget in all, and returns its p50, p95 and how many ran.
func latency(ctx context.Context, b *bench, n int, budget time.Duration, do func(context.Context, *bench) error) (p50, p95 time.Duration, ran int, err error) {
	var d []time.Duration
	begin := time.Now()
	for len(d) < n && (len(d) < 5 || time.Since(begin) < budget) {
		start := time.Now()
		if err := do(ctx, b); err != nil {
			// A query over the stores' time bound (5 s on PostgreSQL)
			// is a result, not a failure of the bench: the service
			// would answer it 503. It counts as timedOut, and a query
			// that times out is not repeated beyond the minimum.
			if !errors.Is(err, user.ErrUnavailable) || ctx.Err() != nil {
				return 0, 0, 0, err
			}
			d = append(d, timedOut)
			if len(d) >= 5 {
				break
			}
			continue
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*95/100], len(d), nil
}

// timedOut stands for a query the store gave up on (user.ErrUnavailable)
// among a query's latencies: it sorts after any real one.
const timedOut = time.Duration(1<<63 - 1)

func ms(d time.Duration) string {
	if d == timedOut {
		return "timed out"
	}
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

// plans prints how PostgreSQL reads the 30-day audit window on b in id
// order (the release before) and in (at, id) order (migration 00022): the
// first lines of each EXPLAIN ANALYZE.
func plans(ctx context.Context, b *bench, day time.Time, out io.Writer) error {
	for _, q := range []struct{ name, sql string }{
		{"id order, before", strings.Replace(windowAudit, "ORDER BY id DESC", "ORDER BY id + 0 DESC", 1)},
		{"(at, id) order, after", strings.Replace(windowAudit, "ORDER BY id DESC", "ORDER BY at DESC, id DESC", 1)},
	} {
		rows, err := b.db.Pool().Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, day.Add(-30*24*time.Hour), day)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "plan of the 30-day audit window (%s, history):\n", q.name)
		for _, l := range lines[:min(6, len(lines))] {
			fmt.Fprintln(out, "   ", l)
		}
	}
	return nil
}

// sizes prints each table's rows and bytes per row, heap and indexes.
func sizes(ctx context.Context, b *bench, out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "table (history)\trows\ttotal MB\tbytes/row heap\tbytes/row indexes\t")
	for _, t := range []string{"users", "sessions", "refresh_tokens", "audit_events"} {
		var rows, heap, idx int64
		q := `SELECT (SELECT count(*) FROM ` + pgx.Identifier{t}.Sanitize() + `), pg_table_size($1), pg_indexes_size($1)`
		if err := b.db.Pool().QueryRow(ctx, q, t).Scan(&rows, &heap, &idx); err != nil {
			return err
		}
		if rows == 0 {
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%d\t%d\t\n", t, rows, float64(heap+idx)/1e6, heap/rows, idx/rows)
	}
	return w.Flush()
}

// retentionOnly runs the retention pass on b, the history database, and
// then vacuums the tables it removed from (as autovacuum would soon after,
// at a time of its own choosing during a measurement), printing the sizes
// before and after: what a year of traffic keeps with retention on.
func retentionOnly(ctx context.Context, b *bench, o options, out io.Writer) error {
	if err := sizes(ctx, b, out); err != nil {
		return err
	}
	if err := retentionPass(ctx, b.db.Purge(), o, out); err != nil {
		return err
	}
	start := time.Now()
	if _, err := b.db.Pool().Exec(ctx, "VACUUM (ANALYZE) sessions, refresh_tokens"); err != nil {
		return err
	}
	fmt.Fprintf(out, "VACUUM (ANALYZE) sessions, refresh_tokens: %s\n", time.Since(start).Round(time.Second))
	return sizes(ctx, b, out)
}

// retentionPass runs retention once on the history database's store with
// o.sessionRetention and reports what went and how fast; with
// o.retentionBudget it stops after that long and reports the rate so far.
func retentionPass(ctx context.Context, store retention.Store, o options, out io.Writer) error {
	r := retention.New(retention.Deps{Store: store}, retention.Policy{Sessions: o.sessionRetention})
	stopped := ""
	if o.retentionBudget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.retentionBudget)
		defer cancel()
	}
	start := time.Now()
	removed, err := r.Run(ctx)
	took := time.Since(start)
	if err != nil && (o.retentionBudget == 0 || ctx.Err() == nil) {
		return err
	} else if err != nil {
		stopped = fmt.Sprintf(" (stopped after the budget of %s)", o.retentionBudget)
	}
	total := removed[retention.Sessions] + removed[retention.RefreshTokens]
	fmt.Fprintf(out, "retention (sessions ended > %s ago, batches of %d): %d sessions + %d refresh tokens removed in %s (%.0f rows/s)%s\n",
		o.sessionRetention, retention.DefaultBatch, removed[retention.Sessions], removed[retention.RefreshTokens],
		took.Round(time.Millisecond), float64(total)/took.Seconds(), stopped)
	return nil
}
