// Command growth measures what a year of history costs usersvc on
// PostgreSQL (issue 25): it makes two databases with the same users, loads
// history (sessions with their refresh tokens, audit events, spread over
// -days) into one, and measures side by side, in one run:
//
//   - logins/s through user.Service (a session, a refresh token and an
//     audit event written per login, in one transaction; bcrypt at cost 4
//     so that the database, not hashing, is what is measured);
//   - the administrators' audit query for a one-day window -window-age back,
//     as the store runs it and in the shape before migration 00012
//     (ORDER BY id DESC, which walks the primary key from the newest event);
//   - the search of users by email prefix;
//   - one retention pass over the history (rows removed per second);
//   - the bytes per row of each table, indexes included.
//
// It drops both databases at the end (unless -keep).
//
//	go run ./bench/growth -postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	    -users 100000 -sessions 1000000 -audit 1000000
package main

import (
	"context"
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

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/retention"
	"github.com/usersvc/usersvc/internal/security"
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
	pool                   int
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
	flag.DurationVar(&o.windowAge, "window-age", 180*24*time.Hour, "how far back the admin audit query's one-day window lies")
	flag.DurationVar(&o.sessionRetention, "session-retention", 30*24*time.Hour, "USERSVC_SESSION_RETENTION of the retention pass")
	flag.BoolVar(&o.keep, "keep", false, "keep the databases")
	flag.BoolVar(&o.skipRetention, "skip-retention", false, "do not run the retention pass")
	flag.IntVar(&o.pool, "pool", 0, "pool_max_conns of the service's pool (0: pgxpool's default, max(4, cores))")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "growth:", err)
		os.Exit(1)
	}
}

// bench is one of the two databases.
type bench struct {
	name string
	url  string
	db   *postgres.DB
	svc  *user.Service
}

func run(ctx context.Context, o options, out io.Writer) error {
	admin, err := pgx.Connect(ctx, o.server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	suffix := fmt.Sprintf("%d", time.Now().Unix())
	cfg, err := config.Load([]string{"USERSVC_BCRYPT_COST=4"}, "")
	if err != nil {
		return err
	}
	hasher, err := app.PasswordHasher(cfg)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return err
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("growth-bench-secret-", 3)), "usersvc", time.Hour, time.Now)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var dbs []*bench
	defer func() {
		for _, b := range dbs {
			b.db.Close()
			if !o.keep {
				_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{b.name}.Sanitize()+" WITH (FORCE)")
			}
		}
	}()
	for _, kind := range []string{"empty", "history"} {
		b := &bench{name: "usersvc_growth_" + kind + "_" + suffix}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{b.name}.Sanitize()); err != nil {
			return fmt.Errorf("create %s: %w", b.name, err)
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
		if _, err := app.Migrate(ctx, b.db); err != nil {
			return err
		}
		start := time.Now()
		if err := loadUsers(ctx, b.db, o.users, hash, now.AddDate(0, 0, -o.days)); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d users loaded in %s\n", kind, o.users, time.Since(start).Round(time.Millisecond))
		if kind == "history" {
			start = time.Now()
			if err := loadHistory(ctx, b.db, o, now); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %d sessions, %d refresh tokens, %d audit events over %d days loaded in %s\n",
				kind, o.sessions, o.sessions, o.audit, o.days, time.Since(start).Round(time.Millisecond))
		}
		if _, err := b.db.Pool().Exec(ctx, "VACUUM ANALYZE"); err != nil {
			return err
		}
		b.svc = user.NewService(user.Deps{Stores: b.db.Stores(), Hasher: hasher, Tokens: tokens, Log: slog.New(slog.DiscardHandler)}, app.Policy(cfg))
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "measure\tempty\thistory\tratio\t")
	rates := make([]float64, len(dbs))
	for i, b := range dbs {
		if rates[i], err = logins(ctx, b, o); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "logins/s\t%.0f\t%.0f\t%.2f\t\n", rates[0], rates[1], rates[1]/rates[0])
	day := now.Add(-o.windowAge)
	for _, q := range []struct {
		name string
		do   func(ctx context.Context, b *bench) error
	}{
		{"audit day window (store)", func(ctx context.Context, b *bench) error {
			_, err := b.db.Stores().Audit.Events(ctx, user.AuditFilter{Since: day, Until: day.Add(24 * time.Hour), Limit: 50})
			return err
		}},
		{"audit day window (pre-00012 shape)", func(ctx context.Context, b *bench) error {
			rows, err := b.db.Pool().Query(ctx, preIndexAudit, day, day.Add(24*time.Hour))
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}},
		{"audit 30-day window (store)", func(ctx context.Context, b *bench) error {
			_, err := b.db.Stores().Audit.Events(ctx, user.AuditFilter{Since: day.Add(-30 * 24 * time.Hour), Until: day, Limit: 50})
			return err
		}},
		{"audit 30-day window (pre-00012 shape)", func(ctx context.Context, b *bench) error {
			rows, err := b.db.Pool().Query(ctx, preIndexAudit, day.Add(-30*24*time.Hour), day)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}},
		{"audit one account, all time", func(ctx context.Context, b *bench) error {
			_, err := b.db.Stores().Audit.Events(ctx, user.AuditFilter{SubjectID: subjectOf(ctx, b), Limit: 50})
			return err
		}},
		{"user search by email prefix", func(ctx context.Context, b *bench) error {
			_, err := b.db.Stores().Users.List(ctx, user.ListQuery{Filter: user.Filter{EmailPrefix: fmt.Sprintf("user%d", rand.IntN(o.users))}, Limit: 50})
			return err
		}},
	} {
		var p [2][2]time.Duration
		for i, b := range dbs {
			if p[i][0], p[i][1], err = latency(ctx, b, o.queries, q.do); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
		}
		fmt.Fprintf(w, "%s p50 / p95\t%s / %s\t%s / %s\t\t\n", q.name, ms(p[0][0]), ms(p[0][1]), ms(p[1][0]), ms(p[1][1]))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := plans(ctx, dbs[1], day, out); err != nil {
		return err
	}
	if err := sizes(ctx, dbs[1], out); err != nil {
		return err
	}
	if !o.skipRetention {
		return retentionPass(ctx, dbs[1], o, out)
	}
	return nil
}

// preIndexAudit is the admin audit query for a window as the store ran it
// before migration 00012 (ORDER BY id DESC: the planner may walk the
// primary key down from the newest event).
const preIndexAudit = `
	SELECT id, at, kind, actor_id, subject_id, ip, user_agent, request_id, detail FROM audit_events
	WHERE at >= $1 AND at < $2 ORDER BY id DESC LIMIT 50`

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

// loadHistory inserts o.sessions sessions of random users (each with one
// refresh token), most expired or revoked, and o.audit audit events, spread
// evenly over the o.days before now, in the order time made them.
func loadHistory(ctx context.Context, db *postgres.DB, o options, now time.Time) error {
	from := now.AddDate(0, 0, -o.days)
	const sessions = `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, authenticated_at)
		SELECT gen_random_uuid(), u.id, c.t, c.t, c.t + interval '90 days',
		       CASE WHEN i % 3 = 0 THEN c.t + interval '1 day' END, 'Mozilla/5.0 (bench)', '192.0.2.1', c.t
		FROM generate_series(1, $1) AS i
		JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users) AS u ON u.n = (i::bigint * 7919) % $4
		CROSS JOIN LATERAL (SELECT $2::timestamptz + ($3::timestamptz - $2::timestamptz) * i / $1 AS t) AS c
		ORDER BY i`
	//nolint:gosec // SQL, no credential
	const tokens = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		SELECT sha256(s.id::text::bytea), s.id, s.created_at, s.created_at + interval '30 days' FROM sessions s ORDER BY s.created_at`
	const audit = `
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		SELECT c.t, (ARRAY['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'session.revoked'])[1 + i % 4],
		       u.id, u.id, '192.0.2.1', 'Mozilla/5.0 (bench)', 'req-' || i,
		       jsonb_build_object('session_id', gen_random_uuid()::text)
		FROM generate_series(1, $1) AS i
		JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users) AS u ON u.n = (i::bigint * 104729) % $4
		CROSS JOIN LATERAL (SELECT $2::timestamptz + ($3::timestamptz - $2::timestamptz) * i / $1 AS t) AS c
		ORDER BY i`
	for _, step := range []struct {
		q    string
		args []any
	}{
		{sessions, []any{o.sessions, from, now, o.users}},
		{tokens, nil},
		{audit, []any{o.audit, from, now, o.users}},
	} {
		if _, err := db.Pool().Exec(ctx, step.q, step.args...); err != nil {
			return fmt.Errorf("load history: %w", err)
		}
	}
	return nil
}

// logins runs o.logins logins of random users on b, o.concurrency at a
// time, and returns the rate.
func logins(ctx context.Context, b *bench, o options) (float64, error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(o.logins) {
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
	return float64(o.logins) / time.Since(start).Seconds(), nil
}

// subjectOf is a random user id of b (the subject of one account's audit).
func subjectOf(ctx context.Context, b *bench) (id [16]byte) {
	_ = b.db.Pool().QueryRow(ctx, `SELECT id FROM users OFFSET floor(random() * 1000) LIMIT 1`).Scan(&id)
	return id
}

// latency runs do n times and returns its p50 and p95.
func latency(ctx context.Context, b *bench, n int, do func(context.Context, *bench) error) (p50, p95 time.Duration, err error) {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		if err := do(ctx, b); err != nil {
			return 0, 0, err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[n/2], d[n*95/100], nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// plans prints how PostgreSQL reads the audit window on b before and
// after migration 00012's query shape: the first lines of each EXPLAIN.
func plans(ctx context.Context, b *bench, day time.Time, out io.Writer) error {
	for _, q := range []struct{ name, sql string }{
		{"pre-00012 shape", preIndexAudit},
		{"store", strings.Replace(preIndexAudit, "ORDER BY id DESC", "ORDER BY id + 0 DESC", 1)},
	} {
		rows, err := b.db.Pool().Query(ctx, "EXPLAIN "+q.sql, day.Add(-30*24*time.Hour), day)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "plan of the 30-day audit window (%s, history):\n", q.name)
		for _, l := range lines[:min(4, len(lines))] {
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

// retentionPass runs retention once on b with o.sessionRetention and
// reports what went and how fast.
func retentionPass(ctx context.Context, b *bench, o options, out io.Writer) error {
	r := retention.New(retention.Deps{Store: b.db.Purge()}, retention.Policy{Sessions: o.sessionRetention})
	start := time.Now()
	removed, err := r.Run(ctx)
	if err != nil {
		return err
	}
	took := time.Since(start)
	total := removed[retention.Sessions] + removed[retention.RefreshTokens]
	fmt.Fprintf(out, "retention (sessions ended > %s ago, batches of %d): %d sessions + %d refresh tokens removed in %s (%.0f rows/s)\n",
		o.sessionRetention, retention.DefaultBatch, removed[retention.Sessions], removed[retention.RefreshTokens],
		took.Round(time.Millisecond), float64(total)/took.Seconds())
	return nil
}
