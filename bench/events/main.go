// Command events measures what emitting events costs the requests that
// emit them (issue 20: at most 5% at p50 on registration and profile
// update). In one run it starts two usersvc servers from one binary with
// the same settings, each on a database of its own (SQLite, or throwaway
// databases on a loopback PostgreSQL): A with no webhook endpoint, B with
// one subscribed to every event type, pointing at a receiver in this
// process that answers 204. Then, in rounds of A B B A (so that both see
// the same machine, which other work shares), each run registers -n
// accounts and, for each, logs in (not timed) and updates the profile
// (PUT /users/me), one request at a time. After every run both rest (3 s)
// and, after B's, until B's deliveries have stopped, so that no run pays
// for the background work of the one before.
//
// It prints the p50 and p90 of each server's registrations and updates,
// B's p50 over A's, and the spread of that ratio across rounds.
//
//	go run ./bench/events [-bin PATH] [-postgres URL] [-rounds 4] [-n 40] [-cost 10]
//
// Only 127.0.0.1 is ever contacted.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
)

// target is issue 20's bound on the overhead at p50.
const target = 1.05

const password = "events bench password"

// rest is the pause after every run: several of the queues' poll
// intervals, so that the events of the run are handed to the sinks.
const rest = 3 * time.Second

type options struct {
	bin, postgres string
	rounds, n     int
	cost          int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "usersvc binary (default: built from this tree)")
	flag.StringVar(&o.postgres, "postgres", "", "PostgreSQL admin URL on loopback: run on throwaway databases there (default: SQLite)")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds of A B B A")
	flag.IntVar(&o.n, "n", 40, "accounts registered and updated per run")
	flag.IntVar(&o.cost, "cost", 10, "bcrypt cost of both servers")
	flag.Parse()
	if o.rounds < 1 || o.rounds > 100 || o.n < 1 || o.n > 10000 || o.cost < 4 || o.cost > 14 {
		fmt.Fprintln(os.Stderr, "events: -rounds 1..100, -n 1..10000, -cost 4..14")
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// sample is the latencies of one run, by request.
type sample struct{ register, update []time.Duration }

func run(ctx context.Context, o options, out io.Writer) error {
	work, err := os.MkdirTemp("", "bench-events")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := binary(o.bin, work)
	if err != nil {
		return err
	}
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	var srv [2]*server
	for i, name := range []string{"a", "b"} {
		dbURL, drop, err := database(ctx, o.postgres)
		if err != nil {
			return err
		}
		defer drop()
		env := environ(filepath.Join(work, name), dbURL, o.cost)
		if name == "b" {
			if err := createEndpoint(ctx, bin, env, rcv.URL+"/hook"); err != nil {
				return err
			}
		}
		if srv[i], err = startServer(bin, env); err != nil {
			return err
		}
		defer srv[i].stop()
	}

	load := benchkit.LoadAverage()
	var runs [2][]sample // by server, in order
	var rounds [][2]sample
	for r := range o.rounds {
		var round [2]sample
		for _, i := range []int{0, 1, 1, 0} {
			s, err := srv[i].measure(ctx, fmt.Sprintf("r%d-%d-%d", r, i, len(runs[i])), o.n)
			if err != nil {
				return err
			}
			// Both servers rest after each run (their queues drain the run's
			// events), and B until its receiver has been idle: a run never
			// pays for the previous one's background work.
			time.Sleep(rest)
			if i == 1 {
				settle(&received)
			}
			runs[i] = append(runs[i], s)
			round[i].register = append(round[i].register, s.register...)
			round[i].update = append(round[i].update, s.update...)
		}
		rounds = append(rounds, round)
	}
	db := "sqlite"
	if o.postgres != "" {
		db = "postgres"
	}
	fmt.Fprintf(out, "events overhead, %s, bcrypt cost %d, %d rounds of A B B A, %d accounts per run; load average %s -> %s\n",
		db, o.cost, o.rounds, o.n, load, benchkit.LoadAverage())
	// Every B run makes three events per account (user.created,
	// session.created, user.updated): wait for the last run's deliveries,
	// then say whether every event reached the receiver.
	want := int64(3 * o.n * 2 * o.rounds)
	awaitDeliveries(&received, want)
	fmt.Fprintf(out, "B's receiver got %d deliveries of the %d events B made\n", received.Load(), want)
	for _, req := range []struct {
		name string
		of   func(sample) []time.Duration
	}{
		{"register", func(s sample) []time.Duration { return s.register }},
		{"update  ", func(s sample) []time.Duration { return s.update }},
	} {
		var all [2][]time.Duration
		for i := range runs {
			for _, s := range runs[i] {
				all[i] = append(all[i], req.of(s)...)
			}
		}
		var ratios []float64
		for _, round := range rounds {
			ratios = append(ratios, ms(pct(req.of(round[1]), 50))/ms(pct(req.of(round[0]), 50)))
		}
		ratio := ms(pct(all[1], 50)) / ms(pct(all[0], 50))
		verdict := "within"
		if ratio > target {
			verdict = "OVER"
		}
		fmt.Fprintf(out, "%s  A (no endpoint) p50 %.2f ms p90 %.2f ms | B (endpoint) p50 %.2f ms p90 %.2f ms | B/A p50 %.3f (%s the %.2f target); per round %s\n",
			req.name, ms(pct(all[0], 50)), ms(pct(all[0], 90)), ms(pct(all[1], 50)), ms(pct(all[1], 90)),
			ratio, verdict, target, spread(ratios))
	}
	return nil
}

// settle waits until the receiver has had no delivery for two seconds,
// longer than the queue's poll interval (at most 60 s): B's deliveries of a run are over before the next run.
func settle(received *atomic.Int64) {
	deadline := time.Now().Add(60 * time.Second)
	last := received.Load()
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		n := received.Load()
		if n == last {
			return
		}
		last = n
	}
}

// awaitDeliveries waits, up to a minute, until the receiver has had want
// deliveries (at least once: redeliveries may make more).
func awaitDeliveries(received *atomic.Int64, want int64) {
	deadline := time.Now().Add(time.Minute)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)]
}

func spread(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r, 'f', 3, 64)
	}
	return fmt.Sprintf("%.3f..%.3f [%s]", slices.Min(rs), slices.Max(rs), strings.Join(parts, " "))
}

// environ is the settings of one server: its own data directory and
// database, the rate limits off (one client does everything), loopback
// webhooks allowed on both (the same settings; only B has an endpoint).
func environ(dir, dbURL string, cost int) []string {
	return append(os.Environ(),
		"USERSVC_OPS_ADDR=off", "USERSVC_DATA_DIR="+dir, "DATABASE_URL="+dbURL,
		"USERSVC_BCRYPT_COST="+strconv.Itoa(cost), "USERSVC_RATE_LIMITS=off", "USERSVC_LOG_LEVEL=warn",
		"USERSVC_JWT_SECRET="+randomHex(32), "USERSVC_WEBHOOK_ALLOW_PRIVATE=on")
}

// createEndpoint registers the receiver on env's database with the CLI
// (which migrates it first, as serve would).
func createEndpoint(ctx context.Context, bin string, env []string, hook string) error {
	if err := os.MkdirAll(dirOf(env), 0o700); err != nil {
		return err
	}
	for _, args := range [][]string{{"migrate", "up"}, {"webhooks", "create", "--url", hook, "--types", "*"}} {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("usersvc %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func dirOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "USERSVC_DATA_DIR="); ok {
			return v
		}
	}
	return ""
}

// server is a running usersvc.
type server struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT/api/v1
	client *http.Client
}

func startServer(bin string, env []string) (*server, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dirOf(env), 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(env, "USERSVC_ADDR="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr + "/api/v1", client: &http.Client{Timeout: 30 * time.Second}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := s.client.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("usersvc on %s did not answer within a minute", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// measure registers n accounts named after prefix and updates each one's
// profile, timing both.
func (s *server) measure(ctx context.Context, prefix string, n int) (sample, error) {
	var out sample
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		body := fmt.Sprintf(`{"email":"%s@example.com","username":%q,"password":%q}`, name, name, password)
		d, res, err := s.do(ctx, http.MethodPost, "/register", "", "application/json", body)
		if err != nil || res.StatusCode != http.StatusCreated {
			return out, fmt.Errorf("register %s: %v %w", name, status(res), err)
		}
		out.register = append(out.register, d)
		form := url.Values{"username": {name}, "password": {password}}.Encode()
		_, res, err = s.do(ctx, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(res.body, &tok) != nil {
			return out, fmt.Errorf("login %s: %v %w", name, status(res), err)
		}
		d, res, err = s.do(ctx, http.MethodPut, "/users/me", tok.AccessToken, "application/json", `{"full_name":"Bench `+name+`"}`)
		if err != nil || res.StatusCode != http.StatusOK {
			return out, fmt.Errorf("update %s: %v %w", name, status(res), err)
		}
		out.update = append(out.update, d)
	}
	return out, nil
}

type response struct {
	StatusCode int
	body       []byte
}

func status(r *response) string {
	if r == nil {
		return "no answer"
	}
	return strconv.Itoa(r.StatusCode) + " " + string(bytes.TrimSpace(r.body))
}

func (s *server) do(ctx context.Context, method, path, token, contentType, body string) (time.Duration, *response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return time.Since(start), &response{StatusCode: res.StatusCode, body: b}, err
}

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
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("-postgres: %q is not a loopback address", u.Hostname())
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("-postgres: %w", err)
	}
	name := "usersvc_events_" + randomHex(4)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintln(os.Stderr, "events: drop database:", err)
		}
		conn.Close(context.Background())
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
