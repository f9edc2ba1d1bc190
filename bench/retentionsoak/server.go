package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/bench/internal/benchkit"
)

// server is the usersvc process under soak and the database it uses.
type server struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	base    string // the API's http://127.0.0.1:port
	ops     string // the operations listener's, for /metrics
	logPath string
	tables  counter
	cleanup []func()
}

// start builds usersvc (unless o.bin), makes its database, starts it on
// two free loopback ports with the soak's lifetimes and waits until it is
// ready.
func start(ctx context.Context, o options, work string) (*server, error) {
	s := &server{exited: make(chan struct{}), logPath: filepath.Join(work, "usersvc.log")}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(work, "usersvc")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/usersvc")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build usersvc (run from the repository root): %w", err)
		}
	}
	dbURL, err := s.database(ctx, o, work)
	if err != nil {
		return nil, err
	}
	api, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	ops, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	s.base, s.ops = "http://"+api, "http://"+ops
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cleanup = append(s.cleanup, func() { logf.Close() })
	s.cmd = exec.Command(bin)
	s.cmd.Dir = work // no .env of the repository applies
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = serviceEnv(o, api, ops, work, dbURL)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start usersvc: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// serviceEnv is usersvc's whole environment: short lifetimes, retention
// often, no rate limit (as bench/loadtest), a fixed HS256 secret.
func serviceEnv(o options, api, ops, work, dbURL string) []string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"USERSVC_ADDR=" + api, "USERSVC_OPS_ADDR=" + ops,
		"USERSVC_DATA_DIR=" + filepath.Join(work, "data"), "DATABASE_URL=" + dbURL,
		"USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + hex.EncodeToString(secret),
		fmt.Sprintf("USERSVC_BCRYPT_COST=%d", o.cost),
		"USERSVC_RATE_LIMITS=off",
		"USERSVC_ACCESS_TOKEN_TTL=1m",
		"USERSVC_REFRESH_TOKEN_TTL=" + o.lifetime.String(),
		"USERSVC_SESSION_MAX_AGE=" + o.lifetime.String(),
		"USERSVC_SESSION_RETENTION=" + o.retention.String(),
		"USERSVC_RETENTION_INTERVAL=" + o.interval.String(),
		"USERSVC_UI=off", "USERSVC_DOCS=off",
	}
}

// database makes the store's database: a throwaway PostgreSQL database
// (dropped by stop) or nothing (SQLite in work/data), and the counter
// that reads its tables. It returns DATABASE_URL.
func (s *server) database(ctx context.Context, o options, work string) (string, error) {
	if o.store == "sqlite" {
		dir := filepath.Join(work, "data")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		s.tables = &sqliteCounter{path: filepath.Join(dir, "usersvc.db")}
		return "", nil
	}
	admin, err := pgx.Connect(ctx, o.server)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", o.server, err)
	}
	name := fmt.Sprintf("usersvc_soak_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close(ctx)
		return "", fmt.Errorf("create database: %w", err)
	}
	s.cleanup = append(s.cleanup, func() {
		c := context.Background()
		_, _ = admin.Exec(c, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		admin.Close(c)
	})
	u, err := url.Parse(o.server)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	s.tables = &pgCounter{url: u.String()}
	return u.String(), nil
}

// waitReady polls /readyz until it answers 200 (the migrations ran), up
// to two minutes.
func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("usersvc exited: %s", s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("usersvc not ready after 2 minutes: %s", s.logTail())
}

// stop ends usersvc (SIGTERM, then SIGKILL after 20 s), closes the
// counter and drops the database.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.tables != nil {
		s.tables.close()
	}
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

// retentionRuns counts the retention runs usersvc logged.
func (s *server) retentionRuns() int {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return -1
	}
	return bytes.Count(b, []byte(`"msg":"retention"`))
}

// logTail is the end of usersvc's log, for errors.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}
