// Command export measures the account data export, GET
// /api/v1/users/me/export, at a million audit events (issue 25: "the
// export of a 1M-event account under 100 MB of server memory"), on SQLite
// and on PostgreSQL. For each store it:
//
//  1. starts the built binary on loopback (a SQLite file in a temporary
//     folder, or a throwaway database on a loopback PostgreSQL), registers
//     one account and stops it;
//  2. loads -events audit events about that account in bulk SQL (a
//     recursive CTE in one transaction on SQLite; generate_series with
//     session_replication_role = replica on PostgreSQL), spread over the
//     year before now;
//  3. starts the server again, logs in, notes the idle server's resident
//     memory, resets its peak (/proc/PID/clear_refs) and downloads the
//     export to a file while sampling VmRSS, then reads VmHWM;
//  4. checks the file: one JSON document whose audit_events are every
//     stored event of the account, newest first, each once.
//
// It prints, per store: the idle RSS, the peak RSS of the export (sampled
// and VmHWM), the bytes, the events, the time and the load average.
//
//	go run ./bench/export [-events 1000000] [-stores sqlite,postgres] \
//	    [-postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'] [-bin PATH]
//
// Only 127.0.0.1 is contacted. The database and the temporary folder are
// removed at the end.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the bulk load of the SQLite file

	"github.com/usersvc/usersvc/bench/internal/benchkit"
	"github.com/usersvc/usersvc/internal/app"
)

type options struct {
	events   int
	stores   string
	postgres string
	bin      string
	every    time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.events, "events", 1_000_000, "audit events loaded about the exported account")
	flag.StringVar(&o.stores, "stores", "sqlite,postgres", "stores measured, comma-separated")
	flag.StringVar(&o.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "loopback PostgreSQL server the throwaway database is made on")
	flag.StringVar(&o.bin, "bin", "", "usersvc binary (empty: go build ./cmd/usersvc)")
	flag.DurationVar(&o.every, "sample", 20*time.Millisecond, "how often the server's RSS is sampled during the export")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
}

const (
	benchUser     = "exporter"
	benchPassword = "correct horse battery staple"
)

// result is one store's measurement.
type result struct {
	store                 string
	idleRSS, idleHWM      int64 // kB
	peakRSS, peakHWM      int64 // kB, during the export
	bytes                 int64
	events, stored        int
	status                string
	took, load            time.Duration
	loadBefore, loadAfter string
	complete              error
}

func run(ctx context.Context, o options, out io.Writer) error {
	work, err := os.MkdirTemp("", "export-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := binary(o.bin, work)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "export bench: %d events per account, %s\n", o.events, "load average "+benchkit.LoadAverage())
	var results []result
	for store := range strings.SplitSeq(o.stores, ",") {
		r, err := measure(ctx, o, bin, work, strings.TrimSpace(store), out)
		if err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
		results = append(results, r)
	}
	report(out, results)
	for _, r := range results {
		if r.complete != nil {
			return fmt.Errorf("%s: the export is not complete: %w", r.store, r.complete)
		}
	}
	return nil
}

// measure loads and exports one account on store ("sqlite" or "postgres").
func measure(ctx context.Context, o options, bin, work, store string, out io.Writer) (result, error) {
	r := result{store: store}
	dir := filepath.Join(work, store)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return r, err
	}
	var dbURL string
	switch store {
	case "sqlite":
	case "postgres":
		u, drop, err := database(ctx, o.postgres)
		if err != nil {
			return r, err
		}
		defer drop()
		dbURL = u
	default:
		return r, fmt.Errorf("unknown store %q (sqlite, postgres)", store)
	}
	secret := benchkit.RandomSecret()
	srv, err := startServer(bin, dir, dbURL, secret)
	if err != nil {
		return r, err
	}
	id, err := register(ctx, srv.base)
	srv.stop()
	if err != nil {
		return r, err
	}
	db, err := openDB(store, dir, dbURL)
	if err != nil {
		return r, err
	}
	defer db.close()
	start := time.Now()
	if err := db.load(ctx, id, o.events); err != nil {
		return r, fmt.Errorf("load: %w", err)
	}
	r.load = time.Since(start)
	fmt.Fprintf(out, "%s: %d events loaded in %s (%s)\n", store, o.events, r.load.Round(time.Millisecond), "load average "+benchkit.LoadAverage())

	if srv, err = startServer(bin, dir, dbURL, secret); err != nil {
		return r, err
	}
	defer srv.stop()
	tok, err := login(ctx, srv.base)
	if err != nil {
		return r, err
	}
	if r.stored, err = db.count(ctx, id); err != nil {
		return r, err
	}
	r.idleRSS, r.idleHWM = srv.memory()
	srv.resetPeak()
	r.loadBefore = "load average " + benchkit.LoadAverage()
	file := filepath.Join(work, store+"-export.json")
	sampler := srv.sample(o.every)
	start = time.Now()
	r.status, r.bytes, err = download(ctx, srv.base, tok, file)
	r.took = time.Since(start)
	r.peakRSS = sampler()
	_, r.peakHWM = srv.memory()
	r.loadAfter = "load average " + benchkit.LoadAverage()
	if err != nil {
		r.complete = err
		return r, nil
	}
	r.events, r.complete = check(file, id, r.stored)
	_ = os.Remove(file)
	fmt.Fprintf(out, "%s: exported %d of %d events, %d bytes in %s\n", store, r.events, r.stored, r.bytes, r.took.Round(time.Millisecond))
	return r, nil
}

func report(out io.Writer, rs []result) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "store\tevents stored\tidle RSS\texport peak RSS (sampled)\texport VmHWM\tbytes\tevents exported\ttime\tMB/s\tstatus\tcomplete\tbefore / after")
	for _, r := range rs {
		complete := "yes"
		if r.complete != nil {
			complete = "NO: " + r.complete.Error()
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%.1f MB\t%d\t%s\t%.1f\t%s\t%s\t%s / %s\n", r.store, r.stored,
			mb(r.idleRSS), mb(r.peakRSS), mb(r.peakHWM), float64(r.bytes)/1e6, r.events,
			r.took.Round(time.Millisecond), float64(r.bytes)/1e6/r.took.Seconds(), r.status, complete,
			r.loadBefore, r.loadAfter)
	}
	_ = w.Flush()
}

func mb(kB int64) string { return fmt.Sprintf("%.1f MB", float64(kB)/1024) }

// binary is the usersvc binary to run: bin, or one built from this tree.
func binary(bin, work string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(work, "usersvc")
	build := exec.Command("go", "build", "-o", bin, "./cmd/usersvc")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	return bin, nil
}

// database makes a throwaway database on the loopback PostgreSQL of admin
// and returns its URL and how to drop it.
func database(ctx context.Context, admin string) (string, func(), error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("-postgres: %q is not a loopback address", u.Hostname())
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "usersvc_export_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "export: drop database:", err)
		}
		conn.Close(context.Background())
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// store is the bench's own connection to the database the server uses.
type store struct {
	sqlite *sql.DB
	pg     *pgx.Conn
}

func openDB(kind, dir, dbURL string) (*store, error) {
	if kind == "postgres" {
		c, err := pgx.Connect(context.Background(), dbURL)
		return &store{pg: c}, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, app.SQLiteFile)+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &store{sqlite: db}, nil
}

func (s *store) close() {
	if s.pg != nil {
		_ = s.pg.Close(context.Background())
	}
	if s.sqlite != nil {
		_ = s.sqlite.Close()
	}
}

// load inserts n audit events about id, oldest first (ids grow with
// time, as the service's do), spread over the year before now. The rows
// are the shape the service writes: a kind of the login family, the
// account as actor and subject, a request id and a one-key detail.
func (s *store) load(ctx context.Context, id string, n int) error {
	now := time.Now().UTC()
	from := now.AddDate(-1, 0, 0)
	if s.pg != nil {
		const q = `
			SET session_replication_role = replica; SET synchronous_commit = off;`
		if _, err := s.pg.Exec(ctx, q); err != nil {
			return err
		}
		const insert = `
			INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
			SELECT $2::timestamptz + ($3::timestamptz - $2::timestamptz) * i / $1,
			       (ARRAY['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'session.revoked'])[1 + i % 4],
			       $4::uuid, $4::uuid, '192.0.2.1', 'Mozilla/5.0 (export bench)', 'req-' || i,
			       jsonb_build_object('session_id', gen_random_uuid()::text)
			FROM generate_series(1, $1::bigint) AS i`
		if _, err := s.pg.Exec(ctx, insert, n, from, now, id); err != nil {
			return err
		}
		_, err := s.pg.Exec(ctx, "RESET ALL; ANALYZE audit_events")
		return err
	}
	// The time layout is the store's (YYYY-MM-DDTHH:MM:SS.ffffffZ).
	const insert = `
		WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?1)
		INSERT INTO audit_events (at, kind, actor_id, subject_id, ip, user_agent, request_id, detail)
		SELECT strftime('%Y-%m-%dT%H:%M:%S', ?2 + (?3 - ?2) * n / ?1, 'unixepoch') || '.' || printf('%06d', (n * 7) % 1000000) || 'Z',
		       CASE n % 4 WHEN 0 THEN 'user.login_succeeded' WHEN 1 THEN 'user.login_failed' WHEN 2 THEN 'user.logged_out' ELSE 'session.revoked' END,
		       ?4, ?4, '192.0.2.1', 'Mozilla/5.0 (export bench)', 'req-' || n,
		       json_object('session_id', lower(hex(randomblob(16))))
		FROM i`
	tx, err := s.sqlite.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insert, n, from.Unix(), now.Unix()-1, id); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// count is how many events about id the store holds.
func (s *store) count(ctx context.Context, id string) (int, error) {
	var n int
	if s.pg != nil {
		err := s.pg.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE subject_id = $1`, id).Scan(&n)
		return n, err
	}
	err := s.sqlite.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE subject_id = ?`, id).Scan(&n)
	return n, err
}

// server is a running usersvc.
type server struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT/api/v1
}

// startServer runs bin serve on a free loopback port with its data in dir
// (or on dbURL), the rate limits off and every other setting at its
// default, and waits until it answers.
func startServer(bin, dir, dbURL, secret string) (*server, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"USERSVC_ADDR="+addr, "USERSVC_OPS_ADDR=off", "USERSVC_DATA_DIR="+dir, "DATABASE_URL="+dbURL,
		"USERSVC_BCRYPT_COST=4", "USERSVC_RATE_LIMITS=off", "USERSVC_LOG_LEVEL=warn", "USERSVC_JWT_SECRET="+secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr + "/api/v1"}
	if err := benchkit.WaitReady("http://"+addr+"/healthz", 30*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// memory is the server's resident memory now and its peak since start
// or the last resetPeak, in kB (VmRSS, VmHWM).
func (s *server) memory() (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kB, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kB
		case "VmHWM":
			hwm = kB
		}
	}
	return rss, hwm
}

// resetPeak makes VmHWM start again from the current RSS, so that the
// export's peak is not the start-up's (migrations).
func (s *server) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// sample reads VmRSS every d until the returned function is called,
// which returns the most it saw.
func (s *server) sample(d time.Duration) func() int64 {
	var (
		peak int64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			rss, _ := s.memory()
			peak = max(peak, rss)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() int64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// register makes the bench's account and returns its id.
func register(ctx context.Context, base string) (string, error) {
	body := `{"email":"` + benchUser + `@example.com","username":"` + benchUser + `","password":"` + benchPassword + `"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("register: %w", err)
	}
	defer res.Body.Close()
	var u struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&u); err != nil || res.StatusCode != http.StatusCreated || u.ID == "" {
		return "", fmt.Errorf("register: %s %w", res.Status, err)
	}
	return u.ID, nil
}

// login returns an access token of the bench's account.
func login(ctx context.Context, base string) (string, error) {
	form := url.Values{"username": {benchUser}, "password": {benchPassword}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("login: %s: no access token", res.Status)
	}
	return tok.AccessToken, nil
}

// download saves the export to file and returns the status and the bytes
// received. A body broken off (the server's way of telling a failed
// export) is an error.
func download(ctx context.Context, base, tok, file string) (string, int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/users/me/export", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("export: %w", err)
	}
	defer res.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return res.Status, 0, err
	}
	defer f.Close()
	n, err := io.Copy(f, res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("export: %s", res.Status)
	}
	if err != nil {
		return res.Status, n, fmt.Errorf("export after %d bytes: %w", n, err)
	}
	return res.Status, n, f.Close()
}

// check reads the export in file and returns how many events it holds,
// and an error unless it is one JSON document whose audit_events are want
// events about id, newest first (ids strictly falling: each once).
func check(file, id string, want int) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if err := expect(dec, json.Delim('{')); err != nil {
		return 0, err
	}
	n := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return n, err
		}
		if key != "audit_events" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return n, err
			}
			continue
		}
		if err := expect(dec, json.Delim('[')); err != nil {
			return n, err
		}
		last := int64(-1)
		for dec.More() {
			var e struct {
				ID        int64  `json:"id"`
				SubjectID string `json:"subject_id"`
			}
			if err := dec.Decode(&e); err != nil {
				return n, err
			}
			if e.SubjectID != id || (last >= 0 && e.ID >= last) {
				return n, fmt.Errorf("event %d: id %d about %s after id %d", n, e.ID, e.SubjectID, last)
			}
			last = e.ID
			n++
		}
		if err := expect(dec, json.Delim(']')); err != nil {
			return n, err
		}
	}
	if err := expect(dec, json.Delim('}')); err != nil {
		return n, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("more after the document: %w", err)
	}
	if n != want {
		return n, fmt.Errorf("%d events exported, %d stored", n, want)
	}
	return n, nil
}

func expect(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("got %v, want %v", tok, want)
	}
	return nil
}
