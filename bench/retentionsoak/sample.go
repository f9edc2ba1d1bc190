package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, as the store uses
)

// tableCount is one table's rows and its oldest row's time (zero: empty).
type tableCount struct {
	rows   int64
	oldest time.Time
}

// sample is what one look at the service found, at t after the soak's
// start.
type sample struct {
	t                         time.Duration
	sessions, tokens, audit   tableCount
	removedSessions           float64 // usersvc_retention_removed_rows_total
	removedTokens             float64
	metricOldestSessions      float64 // usersvc_retention_oldest_row_age_seconds, as of the last run
	metricOldestTokens        float64
	load1                     float64
	at                        time.Time
	sessionsAge, tokensAge    time.Duration // now - oldest, from the database
	requests, logins, skipped int64
}

// counter reads the three tables' sizes straight from the database.
type counter interface {
	count(ctx context.Context) (sessions, tokens, audit tableCount, err error)
	close()
}

// pgCounter counts on PostgreSQL, on a connection of its own.
type pgCounter struct {
	url  string
	conn *pgx.Conn
}

func (c *pgCounter) count(ctx context.Context) (s, t, a tableCount, err error) {
	if c.conn == nil {
		if c.conn, err = pgx.Connect(ctx, c.url); err != nil {
			return s, t, a, err
		}
	}
	const q = `
		SELECT (SELECT count(*) FROM sessions), (SELECT min(created_at) FROM sessions),
		       (SELECT count(*) FROM refresh_tokens), (SELECT min(created_at) FROM refresh_tokens),
		       (SELECT count(*) FROM audit_events), (SELECT min(at) FROM audit_events)`
	var so, to, ao *time.Time
	err = c.conn.QueryRow(ctx, q).Scan(&s.rows, &so, &t.rows, &to, &a.rows, &ao)
	for _, p := range []struct {
		at  *time.Time
		dst *tableCount
	}{{so, &s}, {to, &t}, {ao, &a}} {
		if p.at != nil {
			p.dst.oldest = p.at.UTC()
		}
	}
	return s, t, a, err
}

func (c *pgCounter) close() {
	if c.conn != nil {
		c.conn.Close(context.Background())
	}
}

// sqliteCounter counts on the service's SQLite file, read-only (WAL lets
// it read beside the service's writes).
type sqliteCounter struct {
	path string
	db   *sql.DB
}

func (c *sqliteCounter) count(ctx context.Context) (s, t, a tableCount, err error) {
	if c.db == nil {
		if c.db, err = sql.Open("sqlite", "file:"+c.path+"?mode=ro&_pragma=busy_timeout(10000)"); err != nil {
			return s, t, a, err
		}
	}
	const q = `
		SELECT (SELECT count(*) FROM sessions), (SELECT min(created_at) FROM sessions),
		       (SELECT count(*) FROM refresh_tokens), (SELECT min(created_at) FROM refresh_tokens),
		       (SELECT count(*) FROM audit_events), (SELECT min(at) FROM audit_events)`
	var so, to, ao sql.NullString
	if err = c.db.QueryRowContext(ctx, q).Scan(&s.rows, &so, &t.rows, &to, &a.rows, &ao); err != nil {
		return s, t, a, err
	}
	for _, p := range []struct {
		at  sql.NullString
		dst *tableCount
	}{{so, &s}, {to, &t}, {ao, &a}} {
		if p.at.Valid {
			if p.dst.oldest, err = time.Parse(time.RFC3339Nano, p.at.String); err != nil {
				return s, t, a, fmt.Errorf("parse %q: %w", p.at.String, err)
			}
		}
	}
	return s, t, a, nil
}

func (c *sqliteCounter) close() {
	if c.db != nil {
		c.db.Close()
	}
}

// take samples the database, /metrics and the load average.
func (s *server) take(ctx context.Context, since time.Time) (sample, error) {
	var out sample
	var err error
	out.at = time.Now()
	out.t = out.at.Sub(since)
	out.sessions, out.tokens, out.audit, err = s.tables.count(ctx)
	if err != nil {
		return out, fmt.Errorf("count rows: %w", err)
	}
	if !out.sessions.oldest.IsZero() {
		out.sessionsAge = out.at.Sub(out.sessions.oldest)
	}
	if !out.tokens.oldest.IsZero() {
		out.tokensAge = out.at.Sub(out.tokens.oldest)
	}
	m, err := scrape(ctx, s.ops+"/metrics")
	if err != nil {
		return out, err
	}
	out.removedSessions = m[`usersvc_retention_removed_rows_total{table="sessions"}`]
	out.removedTokens = m[`usersvc_retention_removed_rows_total{table="refresh_tokens"}`]
	out.metricOldestSessions = m[`usersvc_retention_oldest_row_age_seconds{table="sessions"}`]
	out.metricOldestTokens = m[`usersvc_retention_oldest_row_age_seconds{table="refresh_tokens"}`]
	out.load1, _ = strconv.ParseFloat(strings.Fields(loadAvg() + " 0")[0], 64)
	return out, nil
}

// scrape reads the retention series of a Prometheus text page, by their
// full name with labels.
func scrape(ctx context.Context, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "usersvc_retention_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// loadAvg is the first three fields of /proc/loadavg ("?" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
