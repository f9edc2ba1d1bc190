// Command search measures the administrators' user search (issues 21 and
// 25) at a million users on SQLite and PostgreSQL: it loads -users users
// with varied names through the migrated schema (so the SQLite triggers
// and the PostgreSQL trigram index are maintained as in service), then
// times user.Users.List, as user.Service.ListUsers calls it (a page of 50
// and one more), for searches of several kinds, and prints each one's
// p50 / p95 / max and how many users it matched on the first page.
//
//	go run ./bench/search -users 1000000 \
//	    -postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' -sqlite /tmp/search-bench.db
//
// The PostgreSQL database is created and dropped (unless -keep); -pgdb
// searches a kept one again (another build of the store, same data). The
// SQLite file is created anew (unless -resume). A search that fails (a
// timeout) is reported on its row.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

type options struct {
	server, sqlitePath, pgDB string
	users, queries           int
	keep, resume             bool
}

func main() {
	var o options
	flag.StringVar(&o.server, "postgres", "", "URL of a PostgreSQL server database the bench database is created from (empty: skip PostgreSQL)")
	flag.StringVar(&o.sqlitePath, "sqlite", "", "path of the SQLite bench database, replaced (empty: skip SQLite)")
	flag.IntVar(&o.users, "users", 1_000_000, "users to load")
	flag.IntVar(&o.queries, "queries", 200, "repetitions of each search")
	flag.BoolVar(&o.keep, "keep", false, "keep the PostgreSQL database")
	flag.BoolVar(&o.resume, "resume", false, "keep the SQLite file and load only the users it lacks")
	flag.StringVar(&o.pgDB, "pgdb", "", "name of a bench database kept by -keep on the -postgres server: searched as it is (no load, not dropped)")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		os.Exit(1)
	}
}

// The parts names are made of: 20 first names, 7,429 surnames of three
// syllables, 5 mail domains.
var (
	firsts    = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Niklaus", "Radia", "Ken", "Margaret", "Dennis", "Hedy", "Tim", "Sophie", "Leslie", "Jean", "Guido"}
	syllables = [3][]string{
		{"Mar", "Bel", "Cor", "Dan", "Fen", "Gal", "Hol", "Jas", "Kel", "Lon", "Mor", "Nel", "Par", "Ros", "Sel", "Tam", "Val"},
		{"a", "e", "i", "o", "u", "ar", "en", "il", "or", "un", "ad", "ev", "is", "om", "ul", "ay", "ew", "ix", "oz"},
		{"ton", "ley", "son", "berg", "dale", "ford", "man", "ridge", "wood", "well", "field", "more", "by", "croft", "gate", "ham", "ing", "lock", "mond", "ner", "ray", "stein", "vik"},
	}
	domains = []string{"example.com", "example.org", "mail.example", "corp.example", "uni.example"}
)

// person is the n-th bench user.
func person(n int) (email, username, fullName string) {
	first := firsts[n%len(firsts)]
	m := n / len(firsts)
	last := syllables[0][m%17] + syllables[1][(m/17)%19] + syllables[2][(m/323)%23]
	email = fmt.Sprintf("%s.%s%d@%s", strings.ToLower(first), strings.ToLower(last), n, domains[n%len(domains)])
	username = fmt.Sprintf("%s%s%d", strings.ToLower(first[:1]), strings.ToLower(last), n)
	return email, username, first + " " + last
}

// store is one database under test.
type store struct {
	name  string
	users user.Users
	load  func(ctx context.Context, n int) error
	close func()
}

func run(ctx context.Context, o options, out io.Writer) error {
	var stores []*store
	defer func() {
		for _, s := range stores {
			s.close()
		}
	}()
	if o.sqlitePath != "" {
		s, err := openSQLite(ctx, o.sqlitePath, o.resume)
		if err != nil {
			return err
		}
		stores = append(stores, s)
	}
	if o.server != "" {
		s, err := openPostgres(ctx, o.server, o.keep, o.pgDB)
		if err != nil {
			return err
		}
		stores = append(stores, s)
	}
	for _, s := range stores {
		start := time.Now()
		if err := s.load(ctx, o.users); err != nil {
			return fmt.Errorf("%s: load: %w", s.name, err)
		}
		fmt.Fprintf(out, "%s: %d users loaded in %s\n", s.name, o.users, time.Since(start).Round(time.Second))
	}
	fmt.Fprintln(out, "load average at the start:", benchkit.LoadAverage())
	defer func() { fmt.Fprintln(out, "load average at the end:", benchkit.LoadAverage()) }()
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprint(w, "search\tstore\tp50\tp95\tmax\tfirst page (mean)\t\n")
	for _, q := range searches(o.users) {
		for _, s := range stores {
			r := rand.New(rand.NewPCG(1, 2)) // the same searches on every store
			d := make([]time.Duration, o.queries)
			found, failed := 0, ""
			for i := range d {
				lq := q.query(r)
				lq.Limit = user.DefaultPageSize + 1
				start := time.Now()
				got, err := s.users.List(ctx, lq)
				d[i] = time.Since(start)
				if err != nil { // a timeout is a result: say it, go on
					failed = err.Error()
					d = d[:i+1]
					break
				}
				found += len(got)
			}
			if failed != "" {
				fmt.Fprintf(w, "%s\t%s\tfailed after %d: %s\t\t\t\t\n", q.name, s.name, len(d), failed)
				continue
			}
			slices.Sort(d)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.1f\t\n", q.name, s.name, ms(d[len(d)/2]), ms(d[len(d)*95/100]), ms(d[len(d)-1]), float64(found)/float64(len(d)))
		}
	}
	return w.Flush()
}

// search is one kind of search, made afresh for each repetition.
type search struct {
	name  string
	query func(r *rand.Rand) user.ListQuery
}

func searches(n int) []search {
	find := func(s string) user.ListQuery { return user.ListQuery{Filter: user.Filter{Search: s}} }
	return []search{
		{"a person's number and domain (1 user)", func(r *rand.Rand) user.ListQuery {
			e, _, _ := person(r.IntN(n))
			_, rest, _ := strings.Cut(e, ".")
			return find(strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyz"))
		}},
		{"the middle of a surname (~1 in 2,000)", func(r *rand.Rand) user.ListQuery {
			_, _, name := person(r.IntN(n))
			last := strings.ToUpper(name[strings.IndexByte(name, ' ')+2:])
			return find(last[:len(last)-1])
		}},
		{"a first name, any case (1 in 20)", func(r *rand.Rand) user.ListQuery {
			return find(strings.ToUpper(firsts[r.IntN(len(firsts))]))
		}},
		{"a mail domain (1 in 5)", func(r *rand.Rand) user.ListQuery {
			return find("@" + domains[r.IntN(len(domains))])
		}},
		{"a mail domain, the 10th page", func(r *rand.Rand) user.ListQuery {
			q := find("@" + domains[r.IntN(len(domains))])
			// the key of the 500th user or so: the listing starts after it
			q.After = &user.ListKey{CreatedAt: created(500 * len(domains)), ID: uuid.Max}
			return q
		}},
		{"nothing matches", func(r *rand.Rand) user.ListQuery { return find(fmt.Sprintf("zq%dxj", r.IntN(1000))) }},
		{"two characters: a field's start", func(r *rand.Rand) user.ListQuery {
			return find(strings.ToLower(firsts[r.IntN(len(firsts))][:2]))
		}},
		{"one character: a field's start", func(r *rand.Rand) user.ListQuery {
			i := r.IntN(26)
			return find("abcdefghijklmnopqrstuvwxyz"[i : i+1])
		}},
	}
}

// epoch is when the first bench user was created; one a second after.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func created(n int) time.Time { return epoch.Add(time.Duration(n) * time.Second) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// batch is how many users one transaction loads.
const batch = 10_000

func openSQLite(ctx context.Context, path string, resume bool) (*store, error) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if resume {
			break
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := app.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	load := func(ctx context.Context, n int) error {
		const q = `INSERT INTO users (id, email, username, hashed_password, full_name, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?, ?)`
		var have int
		if err := db.Writer().QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&have); err != nil {
			return err
		}
		for from := have; from < n; from += batch {
			tx, err := db.Writer().BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			stmt, err := tx.PrepareContext(ctx, q)
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			for i := from; i < min(n, from+batch); i++ {
				e, u, f := person(i)
				c := created(i).Format("2006-01-02T15:04:05.000Z")
				if _, err := stmt.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), e, u, f, c, c); err != nil {
					_ = tx.Rollback()
					return err
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil // no ANALYZE: usersvc never runs one on SQLite
	}
	return &store{name: "sqlite", users: db.Stores().Users, load: load, close: func() { db.Close() }}, nil
}

func openPostgres(ctx context.Context, server string, keep bool, existing string) (*store, error) {
	if existing != "" {
		return reusePostgres(ctx, server, existing)
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	name := fmt.Sprintf("usersvc_search_%d", time.Now().Unix())
	drop := func() {
		if !keep {
			_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
		_ = admin.Close(context.WithoutCancel(ctx))
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		drop()
		return nil, err
	}
	u, err := url.Parse(server)
	if err != nil {
		drop()
		return nil, err
	}
	u.Path = "/" + name
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		drop()
		return nil, err
	}
	closeAll := func() { db.Close(); drop() }
	if _, err := app.Migrate(ctx, db); err != nil {
		closeAll()
		return nil, err
	}
	load := func(ctx context.Context, n int) error {
		for from := 0; from < n; from += batch {
			var rows [][]any
			for i := from; i < min(n, from+batch); i++ {
				e, u, f := person(i)
				rows = append(rows, []any{uuid.Must(uuid.NewV7()), e, u, "x", f, created(i), created(i)})
			}
			if _, err := db.Pool().CopyFrom(ctx, pgx.Identifier{"users"},
				[]string{"id", "email", "username", "hashed_password", "full_name", "created_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
		_, err := db.Pool().Exec(ctx, "VACUUM ANALYZE users")
		return err
	}
	return &store{name: "postgres", users: db.Stores().Users, load: load, close: closeAll}, nil
}

// reusePostgres opens the bench database name of an earlier run (-keep),
// loaded and analysed: its load only checks the number of users.
func reusePostgres(ctx context.Context, server, name string) (*store, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		return nil, err
	}
	load := func(ctx context.Context, n int) error {
		var have int
		if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM users").Scan(&have); err != nil {
			return err
		}
		if have != n {
			return fmt.Errorf("%s has %d users, not -users %d", name, have, n)
		}
		return nil
	}
	return &store{name: "postgres", users: db.Stores().Users, load: load, close: func() { db.Close() }}, nil
}
