package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

// runSQLite is run for SQLite (-sqlite DIR): the two databases are files
// in a new folder in DIR, opened with sqlite.Open and migrated with
// app.Migrate as the service does, and measured like the PostgreSQL ones,
// the same rows of the same table. The history is loaded on a connection
// of the bench's own (loadSQLite), between the migration and the opening
// the measurements use; the folder is removed at the end (unless -keep).
func runSQLite(ctx context.Context, o options, out io.Writer) error {
	if o.loadOnly || o.reuse != "" || o.pool != 0 {
		return errors.New("-load-only, -reuse and -pool are PostgreSQL only")
	}
	dir, err := os.MkdirTemp(o.sqlite, "usersvc-growth-")
	if err != nil {
		return err
	}
	deps, err := newServiceDeps()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var dbs []*bench
	defer func() {
		for _, b := range dbs {
			_ = b.raw.Close()
			_ = b.lite.Close()
		}
		if o.keep {
			fmt.Fprintf(out, "kept %s\n", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()
	for _, kind := range []string{"empty", "history"} {
		b := &bench{name: kind, path: filepath.Join(dir, kind+".db")}
		db, err := sqlite.Open(ctx, b.path)
		if err != nil {
			return err
		}
		if _, err := app.Migrate(ctx, db); err != nil {
			return errors.Join(err, db.Close())
		}
		if err := db.Close(); err != nil {
			return err
		}
		if err := loadSQLite(ctx, b.path, kind == "history", o, deps.hash, now, out); err != nil {
			return err
		}
		if b.lite, err = sqlite.Open(ctx, b.path); err != nil {
			return err
		}
		if b.raw, err = sql.Open("sqlite", fileURI(b.path, "busy_timeout(5000)", "query_only(1)")); err != nil {
			return errors.Join(err, b.lite.Close())
		}
		dbs = append(dbs, b)
		b.svc = user.NewService(user.Deps{Stores: b.lite.Stores(), Hasher: deps.hasher, Tokens: deps.tokens, Log: slog.New(slog.DiscardHandler)}, app.Policy(deps.cfg))
		fmt.Fprintf(out, "%s: %s, file %.0f MB\n", kind, b.path, float64(fileSize(b.path))/1e6)
	}
	day, err := measure(ctx, dbs, o, now, out)
	if err != nil || o.loginsOnly {
		return err
	}
	if err := plansSQLite(ctx, dbs[1], day, out); err != nil {
		return err
	}
	if err := sizesSQLite(ctx, dbs[1], out); err != nil {
		return err
	}
	if o.skipRetention {
		return nil
	}
	if err := retentionPass(ctx, dbs[1].lite.Purge(), o, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "history file after retention: %.0f MB (SQLite reuses the freed pages; it does not shrink without VACUUM)\n", float64(fileSize(dbs[1].path))/1e6)
	return nil
}

// fileURI is a "file:" URI for path with the given pragmas.
func fileURI(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}).String()
}

// fileSize is the size of the database file at path and its write-ahead
// log.
func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// sqlTime is the SQL text of the service's time layout
// (YYYY-MM-DDTHH:MM:SS.ffffffZ, sqlite's timeLayout) for the expression
// us, microseconds since 1970.
func sqlTime(us string) string {
	return `(strftime('%Y-%m-%dT%H:%M:%S', (` + us + `) / 1000000, 'unixepoch') || printf('.%06dZ', (` + us + `) % 1000000))`
}

// sqlV7 is the SQL text of a UUIDv7-shaped id made of the time us
// (microseconds) and the row number i: the first 48 bits are the
// milliseconds, as in the service's ids, so rows made in time order go
// into the primary key in key order; i makes it unique.
func sqlV7(us, i string) string {
	ms := `((` + us + `) / 1000)`
	return `printf('%08x-%04x-7%03x-%04x-%012x', ` + ms + ` >> 16, ` + ms + ` & 65535, ((` + i + `) * 40503) % 4096, 32768 + ((` + i + `) * 7919) % 16384, ` + i + `)`
}

// rowsCTE numbers the rows ?1..?2 of a statement of the load, each with its
// time us: ?3 + ?4 * i microseconds.
const rowsCTE = `WITH RECURSIVE s(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2),
	c(i, us) AS (SELECT i, ?3 + ?4 * i FROM s) `

// loadSQLite loads the users and, with history, o.sessions sessions (each
// with a refresh token) and o.audit audit events spread over the o.days
// before now, into the migrated database file at path, the way loadHistory
// does on PostgreSQL: the rows are made by SQL (a recursive CTE: modernc's
// SQLite has no generate_series), in chunks of loadChunk rows, each one
// statement and one transaction; the secondary indexes of the three tables
// are dropped first and built again at the end; foreign keys are not
// checked (the rows are made consistent) and nothing is journalled or
// synced (a failed load is thrown away); session ids begin with their
// creation time in milliseconds, as the service's UUIDv7s do, and the
// refresh tokens are inserted sorted by hash, so both go into their
// primary keys in key order. The audit log's triggers refuse only UPDATE
// and DELETE, so the INSERTs need nothing done to them. The users are
// inserted through the users_search triggers, as the service inserts
// them. The file is left in WAL mode, as the service wants it.
func loadSQLite(ctx context.Context, path string, history bool, o options, hash string, now time.Time, out io.Writer) (err error) {
	db, err := sql.Open("sqlite", fileURI(path, "busy_timeout(5000)", "foreign_keys(OFF)", "journal_mode(OFF)", "synchronous(OFF)", "cache_size(-262144)"))
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			_, err = db.ExecContext(ctx, `PRAGMA journal_mode = WAL`)
		}
		err = errors.Join(err, db.Close())
	}()
	db.SetMaxOpenConns(1)
	from := now.AddDate(0, 0, -o.days)
	kind := map[bool]string{false: "empty", true: "history"}[history]
	start := time.Now()
	//nolint:gosec // fixed SQL fragments; every value is a parameter
	users := rowsCTE + `
		INSERT INTO users (id, email, username, hashed_password, created_at, updated_at)
		SELECT ` + sqlV7("us", "i") + `, 'user' || i || '@example.com', 'user' || i, ?5, ` + sqlTime("us") + `, ` + sqlTime("us") + ` FROM c`
	if _, err := db.ExecContext(ctx, users, 1, o.users, from.UnixMicro(), now.Sub(from).Microseconds()/int64(o.users), hash); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	fmt.Fprintf(out, "%s: %d users loaded in %s (load %s)\n", kind, o.users, time.Since(start).Round(time.Millisecond), benchkit.LoadAverage())
	if !history {
		return nil
	}
	start = time.Now()
	indexes, err := dropIndexesSQLite(ctx, db, []string{"sessions", "refresh_tokens", "audit_events"})
	if err != nil {
		return err
	}
	day := (24 * time.Hour).Microseconds()
	sessions := rowsCTE + fmt.Sprintf(`
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, authenticated_at)
		SELECT %[1]s, u.id, %[2]s, %[2]s, %[3]s, CASE WHEN i %% 3 = 0 THEN %[4]s END, 'Mozilla/5.0 (bench)', '192.0.2.1', %[2]s
		FROM c JOIN users AS u ON u.rowid = 1 + (i * 7919) %% ?5`,
		sqlV7("us", "i"), sqlTime("us"), sqlTime(fmt.Sprintf("us + %d", 90*day)), sqlTime(fmt.Sprintf("us + %d", day)))
	audit := rowsCTE + fmt.Sprintf(`
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		SELECT %[1]s, CASE i %% 4 WHEN 0 THEN 'user.login_succeeded' WHEN 1 THEN 'user.login_failed' WHEN 2 THEN 'user.logged_out' ELSE 'session.revoked' END,
		       u.id, u.id, '192.0.2.1', 'Mozilla/5.0 (bench)', 'req-' || i, json_object('session_id', %[2]s)
		FROM c JOIN users AS u ON u.rowid = 1 + (i * 104729) %% ?5`,
		sqlTime("us"), sqlV7("us", "i + 1000000000"))
	chunks := func(name, q string, total int) error {
		for lo := 1; lo <= total; lo += loadChunk {
			hi := min(lo+loadChunk-1, total)
			t := time.Now()
			if _, err := db.ExecContext(ctx, q, lo, hi, from.UnixMicro(), now.Sub(from).Microseconds()/int64(total), o.users); err != nil {
				return fmt.Errorf("load %s %d..%d: %w", name, lo, hi, err)
			}
			fmt.Fprintf(out, "  %s %d..%d in %s (load %s)\n", name, lo, hi, time.Since(t).Round(time.Millisecond), benchkit.LoadAverage())
		}
		return nil
	}
	if err := chunks("sessions", sessions, o.sessions); err != nil {
		return err
	}
	t := time.Now()
	//nolint:gosec // SQL, no credential
	const tokens = `
		INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at)
		SELECT randomblob(32) AS h, id, created_at, strftime('%Y-%m-%dT%H:%M:%S', created_at, '+30 days') || substr(created_at, 20)
		FROM sessions ORDER BY h`
	if _, err := db.ExecContext(ctx, tokens); err != nil {
		return fmt.Errorf("load refresh tokens: %w", err)
	}
	fmt.Fprintf(out, "  refresh tokens in %s (load %s)\n", time.Since(t).Round(time.Millisecond), benchkit.LoadAverage())
	if err := chunks("audit events", audit, o.audit); err != nil {
		return err
	}
	t = time.Now()
	for _, ix := range indexes {
		if _, err := db.ExecContext(ctx, ix); err != nil {
			return fmt.Errorf("%s: %w", ix, err)
		}
	}
	fmt.Fprintf(out, "  %d secondary indexes built in %s (load %s)\n", len(indexes), time.Since(t).Round(time.Millisecond), benchkit.LoadAverage())
	fmt.Fprintf(out, "%s: %d sessions, %d refresh tokens, %d audit events over %d days loaded in %s\n",
		kind, o.sessions, o.sessions, o.audit, o.days, time.Since(start).Round(time.Millisecond))
	return nil
}

// dropIndexesSQLite drops the indexes of tables that back no constraint
// (the automatic ones of a PRIMARY KEY or UNIQUE have no SQL) and returns
// the statements that build them again.
func dropIndexesSQLite(ctx context.Context, db *sql.DB, tables []string) ([]string, error) {
	q := `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?` + strings.Repeat(", ?", len(tables)-1) + `)` //nolint:gosec // placeholders only
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	var names, defs []string
	err := scanRows(ctx, db, q, args, func(rows *sql.Rows) error {
		var name, def string
		err := rows.Scan(&name, &def)
		names, defs = append(names, name), append(defs, def)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP INDEX "`+n+`"`); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// plansSQLite prints how SQLite reads the 30-day audit window on b
// (EXPLAIN QUERY PLAN of the store's statements): id order as the store
// writes it for a window closed on both sides (ORDER BY +id), id order as
// it was before (ORDER BY id: the rowid walked down from the newest event),
// and (at, id) order.
func plansSQLite(ctx context.Context, b *bench, day time.Time, out io.Writer) error {
	const q = `SELECT id, at, kind, actor_id, subject_id, ip, user_agent, request_id, detail FROM audit_events
		WHERE at >= ? AND at < ? ORDER BY %s LIMIT 51`
	layout := "2006-01-02T15:04:05.000000Z"
	for _, order := range []struct{ name, by string }{
		{"id order, the store's (+id)", "+id DESC"},
		{"id order, plain (id)", "id DESC"},
		{"(at, id) order", "at DESC, id DESC"},
	} {
		var lines []string
		err := scanRows(ctx, b.raw, "EXPLAIN QUERY PLAN "+fmt.Sprintf(q, order.by),
			[]any{day.Add(-30 * 24 * time.Hour).UTC().Format(layout), day.UTC().Format(layout)},
			func(rows *sql.Rows) error {
				var id, parent, unused int
				var detail string
				err := rows.Scan(&id, &parent, &unused, &detail)
				lines = append(lines, detail)
				return err
			})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "plan of the 30-day audit window (%s, history): %s\n", order.name, strings.Join(lines, "; "))
	}
	return nil
}

// sizesSQLite prints each table's rows and bytes per row, table and
// indexes, from the dbstat virtual table (the pages of each b-tree,
// free space included), and the FTS5 search's (users_search and its
// shadow tables, users_search_rows) per user.
func sizesSQLite(ctx context.Context, b *bench, out io.Writer) error {
	owner := map[string][2]string{} // object -> table, type
	err := scanRows(ctx, b.raw, `SELECT name, tbl_name, type FROM sqlite_schema`, nil, func(rows *sql.Rows) error {
		var name, table, typ string
		err := rows.Scan(&name, &table, &typ)
		owner[name] = [2]string{table, typ}
		return err
	})
	if err != nil {
		return err
	}
	size := map[string][2]int64{} // table -> table bytes, index bytes
	var total int64
	err = scanRows(ctx, b.raw, `SELECT name, sum(pgsize) FROM dbstat GROUP BY name`, nil, func(rows *sql.Rows) error {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		total += n
		o := owner[name]
		table := cmp.Or(o[0], name)
		if strings.HasPrefix(table, "users_search") {
			table = "users_search"
		}
		s := size[table]
		if o[1] == "index" {
			s[1] += n
		} else {
			s[0] += n
		}
		size[table] = s
		return nil
	})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "table (history, %.0f MB in b-trees, file %.0f MB)\trows\ttotal MB\tbytes/row table\tbytes/row indexes\t\n", float64(total)/1e6, float64(fileSize(b.path))/1e6)
	tables := []string{"users", "users_search", "sessions", "refresh_tokens", "audit_events"}
	for _, t := range tables {
		count := t
		if t == "users_search" {
			count = "users"
		}
		var n int64
		if err := b.raw.QueryRowContext(ctx, `SELECT count(*) FROM "`+count+`"`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		s := size[t]
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%d\t%d\t\n", t, n, float64(s[0]+s[1])/1e6, s[0]/n, s[1]/n)
	}
	return w.Flush()
}

// scanRows runs q with args on db and calls scan for each row.
func scanRows(ctx context.Context, db *sql.DB, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
