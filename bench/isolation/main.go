// Command isolation shows that a login flood cannot starve the service
// (issues 5 and 18). In one run it starts usersvc on loopback (SQLite, or a
// throwaway database on a loopback PostgreSQL), then:
//
//  1. measures the hashing capacity: successful logins per second from a
//     few clients logging in one after another (2 per CPU by default);
//  2. floods POST /api/v1/token with correct logins from many connections
//     (256 by default) that retry at once, never honouring Retry-After,
//     while a separate client reads GET /api/v1/users/me at a steady pace;
//  3. measures the capacity again; the mean of the two is the reference.
//
// It reports the logins of the flood as a share of that capacity, the
// latency of the reads, and the server's peak memory.
//
//	go run ./bench/isolation [-bin PATH] [-postgres URL] [-flood 256] [-duration 20s]
//
// Only 127.0.0.1 is ever contacted. A run is bounded in time (-duration,
// plus twice -capacity-for and its 2 s warm-up, plus start-up) and in
// requests (-max-requests).
package main

import (
	"context"
	"crypto/rand"
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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
)

// The targets of issue 18 for 256 instantly retrying connections.
const (
	targetShare = 0.85                  // successful logins, of the capacity
	targetP99   = 25 * time.Millisecond // GET /users/me
)

// The account every login of the run uses.
const (
	benchUser     = "bench"
	readerUser    = "reader"
	benchPassword = "isolation bench password"
)

// warmUp is how long the capacity clients and the flood run before their
// logins are counted (and the reads start): long enough to fill the
// server's queue.
const warmUp = 2 * time.Second

type options struct {
	bin, postgres   string
	cost            int
	duration        time.Duration // of the flood
	capacityFor     time.Duration // of each capacity measurement
	capacityClients int
	flood           int
	readRate        int // reads per second during the flood
	maxRequests     int64
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "usersvc binary (default: built from this tree)")
	flag.StringVar(&o.postgres, "postgres", "", "PostgreSQL admin URL on loopback: run on a throwaway database there (default: SQLite)")
	flag.IntVar(&o.cost, "cost", 10, "bcrypt cost of the server")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of the flood")
	flag.DurationVar(&o.capacityFor, "capacity-for", 5*time.Second, "length of each capacity measurement (before and after the flood)")
	flag.IntVar(&o.capacityClients, "capacity-clients", 2*runtime.NumCPU(), "clients logging in one after another to measure the capacity")
	flag.IntVar(&o.flood, "flood", 256, "connections retrying logins at once during the flood")
	flag.IntVar(&o.readRate, "read-rate", 50, "GET /users/me per second during the flood")
	flag.Int64Var(&o.maxRequests, "max-requests", 3_000_000, "the flood stops after this many requests, whatever -duration says")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "isolation:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "isolation:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.flood < 1 || o.flood > 4096:
		return errors.New("-flood must be 1 to 4096")
	case o.capacityClients < 1 || o.capacityClients > 64:
		return errors.New("-capacity-clients must be 1 to 64")
	case o.readRate < 1 || o.readRate > 1000:
		return errors.New("-read-rate must be 1 to 1000")
	case o.duration <= warmUp || o.duration > 10*time.Minute:
		return fmt.Errorf("-duration must be over %s and at most 10m", warmUp)
	case o.capacityFor <= 0 || o.capacityFor > time.Minute:
		return errors.New("-capacity-for must be positive and at most 1m")
	case o.maxRequests < 1:
		return errors.New("-max-requests must be positive")
	}
	return nil
}

// run does one measurement and writes its report to out.
func run(ctx context.Context, o options, out io.Writer) error {
	work, err := os.MkdirTemp("", "isolation")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := binary(o.bin, work)
	if err != nil {
		return err
	}
	dbURL, drop, err := database(ctx, o.postgres)
	if err != nil {
		return err
	}
	defer drop()
	srv, err := startServer(bin, work, dbURL, o.cost)
	if err != nil {
		return err
	}
	defer srv.stop()
	c := newClients(srv.base, o.flood+o.capacityClients)
	token, err := c.setUp(ctx)
	if err != nil {
		return err
	}
	load := "load average " + benchkit.LoadAverage()
	before := c.capacity(ctx, o.capacityClients, o.capacityFor)
	fl := c.flood(ctx, o, token)
	after := c.capacity(ctx, o.capacityClients, o.capacityFor)
	r := report{o: o, db: "sqlite", before: before, after: after, flood: fl,
		peakRSS: srv.peakRSS(), loadBefore: load, loadAfter: "load average " + benchkit.LoadAverage()}
	if dbURL != "" {
		r.db = "postgres"
	}
	r.write(out)
	return nil
}

// binary is the usersvc binary to run: bin, or one built from this tree
// into work.
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

// database makes a throwaway database on the PostgreSQL of admin and
// returns its URL and how to drop it; with admin empty, "" (SQLite).
func database(ctx context.Context, admin string) (string, func(), error) {
	if admin == "" {
		return "", func() {}, nil
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	if !loopback(u.Hostname()) {
		return "", nil, fmt.Errorf("-postgres: %q is not a loopback address", u.Hostname())
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "usersvc_isolation_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "isolation: drop database:", err)
		}
		conn.Close(context.Background())
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// server is a running usersvc.
type server struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT/api/v1
}

// startServer runs bin serve on a free loopback port, with its data in
// work (or on dbURL), the rate limits off (one client address floods: this
// measures the hashing and the waiting room, not the limits) and every
// other setting at its default, and waits until it answers.
func startServer(bin, work, dbURL string, cost int) (*server, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"USERSVC_ADDR="+addr, "USERSVC_OPS_ADDR=off", "USERSVC_DATA_DIR="+work, "DATABASE_URL="+dbURL,
		"USERSVC_BCRYPT_COST="+strconv.Itoa(cost), "USERSVC_RATE_LIMITS=off",
		"USERSVC_LOG_LEVEL=warn", "USERSVC_JWT_SECRET="+benchkit.RandomSecret())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr + "/api/v1"}
	if err := benchkit.WaitReady("http://"+addr+"/healthz", 10*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// peakRSS is the server's peak resident memory so far, "" when unknown.
func (s *server) peakRSS() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// clients talk to the server: flood and capacity share one pool of
// connections, the reader has its own (another client of the service).
type clients struct {
	base         string
	logins, read *http.Client
}

func newClients(base string, conns int) *clients {
	return &clients{
		base:   base,
		logins: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns + 8}, Timeout: 30 * time.Second},
		read:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second},
	}
}

// setUp registers the account the flood logs into and the reader's, and
// returns an access token of the reader's. The reader has an account of
// its own, as a real one would: the flood's thousands of logins end the
// oldest sessions of their account (USERSVC_MAX_SESSIONS_PER_USER).
func (c *clients) setUp(ctx context.Context) (string, error) {
	for _, name := range []string{benchUser, readerUser} {
		body := `{"email":"` + name + `@example.com","username":"` + name + `","password":"` + benchPassword + `"}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := c.logins.Do(req)
		if err != nil {
			return "", fmt.Errorf("register %s: %w", name, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("register %s: %s", name, res.Status)
		}
	}
	res, err := c.loginAs(ctx, readerUser)
	if err != nil {
		return "", err
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

// login posts one correct login of the flood's account; the caller
// closes the body.
func (c *clients) login(ctx context.Context) (*http.Response, error) {
	return c.loginAs(ctx, benchUser)
}

// loginAs posts one correct login of name; the caller closes the body.
func (c *clients) loginAs(ctx context.Context, name string) (*http.Response, error) {
	form := url.Values{"username": {name}, "password": {benchPassword}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.logins.Do(req)
}

// loginStatus is login's status, 0 for a failed request; the body is read
// so that the connection is reused.
func (c *clients) loginStatus(ctx context.Context) int {
	res, err := c.login(ctx)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// capacity is the successful logins per second of n clients, each logging
// in one after another, counted for d after a warm-up (a fresh server
// answered the first seconds' logins at half the later rate).
func (c *clients) capacity(ctx context.Context, n int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, warmUp+d)
	defer cancel()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				if c.loginStatus(ctx) == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(warmUp)
	ok0, start := ok.Load(), time.Now()
	<-ctx.Done()
	logins, over := ok.Load()-ok0, time.Since(start)
	wg.Wait()
	return float64(logins) / over.Seconds()
}

// floodResult is what the flood measured, after its warm-up.
type floodResult struct {
	logins, refused, failed int64 // 200s; 503s and 429s; anything else
	requests                int64 // over the whole flood, warm-up included
	over                    time.Duration
	reads                   []time.Duration // sorted
	readErrs                int
}

// flood runs o.flood connections retrying logins at once for o.duration
// (or o.maxRequests requests), reading GET /users/me with token at
// o.readRate from the end of the warm-up on.
func (c *clients) flood(ctx context.Context, o options, token string) floodResult {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var ok, refused, failed, requests atomic.Int64
	var wg sync.WaitGroup
	for range o.flood {
		wg.Go(func() {
			for ctx.Err() == nil {
				if requests.Add(1) > o.maxRequests {
					cancel()
					return
				}
				switch st := c.loginStatus(ctx); {
				case st == http.StatusOK:
					ok.Add(1)
				case st == http.StatusServiceUnavailable || st == http.StatusTooManyRequests:
					refused.Add(1)
				case ctx.Err() == nil:
					failed.Add(1)
				}
			}
		})
	}
	select {
	case <-time.After(warmUp):
	case <-ctx.Done():
	}
	ok0, refused0, failed0, start := ok.Load(), refused.Load(), failed.Load(), time.Now()
	reads, readErrs := c.readUntil(ctx, token, o.readRate)
	r := floodResult{logins: ok.Load() - ok0, refused: refused.Load() - refused0, failed: failed.Load() - failed0,
		over: time.Since(start), reads: reads, readErrs: readErrs}
	wg.Wait()
	r.requests = min(requests.Load(), o.maxRequests)
	return r
}

// readUntil reads GET /users/me rate times a second until ctx ends and
// returns the latencies of the successful reads, sorted, and the number of
// failed ones.
func (c *clients) readUntil(ctx context.Context, token string, rate int) ([]time.Duration, int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var lat []time.Duration
	errs := 0
	for {
		select {
		case <-ctx.Done():
			slices.Sort(lat)
			return lat, errs
		case <-tick.C:
		}
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, c.base+"/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		res, err := c.read.Do(req)
		if err != nil {
			errs++
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			errs++
			continue
		}
		lat = append(lat, time.Since(t0))
	}
}

// report is one run's figures.
type report struct {
	o                     options
	db                    string
	before, after         float64 // capacity, logins/s
	flood                 floodResult
	peakRSS               string
	loadBefore, loadAfter string
}

func (r report) write(out io.Writer) {
	o, fl := r.o, r.flood
	capacity := (r.before + r.after) / 2
	rate := float64(fl.logins) / fl.over.Seconds()
	share := rate / capacity
	fmt.Fprintf(out, "machine: %d cores (GOMAXPROCS %d), %s; store %s, bcrypt cost %d\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), r.loadBefore, r.db, o.cost)
	fmt.Fprintf(out, "capacity (%d clients logging in one after another, %s each after a %s warm-up): %.1f logins/s before the flood, %.1f after, mean %.1f\n",
		o.capacityClients, o.capacityFor, warmUp, r.before, r.after, capacity)
	fmt.Fprintf(out, "flood: %d connections retrying at once for %s, %d requests; measured over %.1fs after a %s warm-up: %d logins (%.1f/s = %.0f%% of capacity), %d refused (503/429), %d other failures\n",
		o.flood, o.duration, fl.requests, fl.over.Seconds(), warmUp, fl.logins, rate, 100*share, fl.refused, fl.failed)
	if len(fl.reads) == 0 {
		fmt.Fprintf(out, "GET /users/me at %d/s during the flood: none answered, %d failed\n", o.readRate, fl.readErrs)
		fmt.Fprintln(out, "verdict: not met (no read answered)")
		return
	}
	p := func(q float64) time.Duration { return fl.reads[min(len(fl.reads)-1, int(q*float64(len(fl.reads))))] }
	fmt.Fprintf(out, "GET /users/me at %d/s during the flood: %d answered, %d failed; p50 %s, p90 %s, p99 %s, max %s\n",
		o.readRate, len(fl.reads), fl.readErrs, ms(p(.50)), ms(p(.90)), ms(p(.99)), ms(fl.reads[len(fl.reads)-1]))
	fmt.Fprintf(out, "server peak RSS: %s; %s at the end\n", r.peakRSS, r.loadAfter)
	fmt.Fprintf(out, "verdict: logins >= %.0f%% of capacity: %v; read p99 <= %s: %v\n",
		100*targetShare, share >= targetShare, ms(targetP99), p(.99) <= targetP99)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
