// Command seed fills a usersvc database with N users for the load test,
// fast: one bcrypt hash computed once and shared by every user, COPY on
// PostgreSQL, batched multi-row INSERTs in one transaction on SQLite. The
// schema comes from the stores' own migrations (Migrator), so the seeded
// database is exactly what usersvc serves.
//
// It also writes the files the wrk scripts read: tokens (access tokens for
// a random sample of the users, signed with the service's secret and issuer)
// and logins (their usernames). Every user's password is -password.
//
//	seed -sqlite data/usersvc.db -n 10000 -out bench/.run
//	seed -postgres postgres://.../usersvc_bench_x -n 1000000 -out bench/.run
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" driver, as the store uses

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
)

func main() {
	var (
		sqlitePath = flag.String("sqlite", "", "SQLite database file to seed")
		pgURL      = flag.String("postgres", "", "PostgreSQL database URL to seed")
		n          = flag.Int("n", 10000, "number of users")
		sample     = flag.Int("sample", 10000, "number of tokens and logins to write")
		out        = flag.String("out", ".", "directory for the tokens and logins files")
		password   = flag.String("password", "bench-password", "every user's password")
		cost       = flag.Int("cost", 10, "bcrypt cost of the shared hash")
		secret     = flag.String("secret", os.Getenv("USERSVC_JWT_SECRET"), "JWT secret of the service")
		issuer     = flag.String("issuer", "usersvc", "JWT issuer of the service")
		ttl        = flag.Duration("ttl", 2*time.Hour, "lifetime of the written tokens")
	)
	flag.Parse()
	if err := run(*sqlitePath, *pgURL, *n, *sample, *out, *password, *cost, *secret, *issuer, *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(sqlitePath, pgURL string, n, sample int, out, password string, cost int, secret, issuer string, ttl time.Duration) error {
	if (sqlitePath == "") == (pgURL == "") {
		return fmt.Errorf("give exactly one of -sqlite and -postgres")
	}
	ctx := context.Background()
	start := time.Now()
	hasher, err := security.NewBcrypt(cost)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	if sqlitePath != "" {
		err = seedSQLite(ctx, sqlitePath, ids, hash)
	} else {
		err = seedPostgres(ctx, pgURL, ids, hash)
	}
	if err != nil {
		return err
	}
	sessions, err := openSessions(ctx, sqlitePath, pgURL)
	if err != nil {
		return err
	}
	defer sessions.Close()
	if err := writeSamples(ctx, sessions, out, ids, sample, secret, issuer, ttl); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seed: %d users in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// name is the username of the i-th user; the email is name@bench.example.com.
func name(i int) string { return fmt.Sprintf("u%d", i) }

func seedPostgres(ctx context.Context, url string, ids []uuid.UUID, hash string) error {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrate(ctx, st); err != nil {
		return err
	}
	rows := pgx.CopyFromSlice(len(ids), func(i int) ([]any, error) {
		return []any{ids[i], name(i) + "@bench.example.com", name(i), hash}, nil
	})
	_, err = st.Pool().CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "username", "hashed_password"}, rows)
	if err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	_, err = st.Pool().Exec(ctx, "ANALYZE users")
	return err
}

func seedSQLite(ctx context.Context, path string, ids []uuid.UUID, hash string) error {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	err = migrate(ctx, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	db, err := sql.Open("sqlite", "file:"+abs+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	const batch = 1000                   // 4 parameters a row: well under SQLite's 32766
	for lo := 0; lo < len(ids); lo += batch {
		hi := min(lo+batch, len(ids))
		var q strings.Builder
		q.WriteString("INSERT INTO users (id, email, username, hashed_password) VALUES ")
		args := make([]any, 0, 4*(hi-lo))
		for i := lo; i < hi; i++ {
			if i > lo {
				q.WriteString(",")
			}
			q.WriteString("(?,?,?,?)")
			args = append(args, ids[i].String(), name(i)+"@bench.example.com", name(i), hash)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert users: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// No ANALYZE: usersvc never analyzes its SQLite file, so the seeded one
	// should not have statistics either. With STAT4 statistics SQLite
	// re-plans a prepared statement whenever a bound value changes, which
	// doubled the cost of the per-request user+session join (docs/benchmarks.md).
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// migrate applies the store's own migrations.
func migrate(ctx context.Context, st interface {
	Migrator() (*goose.Provider, error)
}) error {
	p, err := st.Migrator()
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// sessionStore is the database where writeSamples opens the sessions its
// tokens name.
type sessionStore interface {
	Stores() user.Stores
	Close() error
}

func openSessions(ctx context.Context, sqlitePath, pgURL string) (sessionStore, error) {
	if sqlitePath != "" {
		return sqlite.Open(ctx, sqlitePath)
	}
	return postgres.Open(ctx, pgURL)
}

// newSession stores a session of id, as a login would, for a sample token.
func newSession(ctx context.Context, st sessionStore, id uuid.UUID, ttl time.Duration) (uuid.UUID, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := user.Session{
		ID: uuid.Must(uuid.NewV7()), UserID: id, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(ttl + 24*time.Hour), UserAgent: "bench/seed",
	}
	h := sha256.Sum256([]byte(crand.Text()))
	rt := user.RefreshToken{Hash: h[:], SessionID: s.ID, CreatedAt: now, ExpiresAt: s.ExpiresAt}
	return s.ID, st.Stores().Sessions.Create(ctx, s, rt)
}

func writeSamples(ctx context.Context, st sessionStore, out string, ids []uuid.UUID, sample int, secret, issuer string, ttl time.Duration) error {
	tokens, err := security.NewHS256([]byte(secret), issuer, ttl, time.Now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tf, err := os.Create(filepath.Join(out, "tokens"))
	if err != nil {
		return err
	}
	defer tf.Close()
	lf, err := os.Create(filepath.Join(out, "logins"))
	if err != nil {
		return err
	}
	defer lf.Close()
	tw, lw := bufio.NewWriter(tf), bufio.NewWriter(lf)
	for range min(sample, len(ids)) {
		i := rand.IntN(len(ids))
		sid, err := newSession(ctx, st, ids[i], ttl)
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		t, _, err := tokens.Issue(security.Claims{UserID: ids[i], Version: 0, SessionID: sid})
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, t)
		fmt.Fprintln(lw, name(i))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return lw.Flush()
}
