package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
)

// started is a usersvc started by run on a free port.
type started struct {
	base string
	logs *bytes.Buffer // what run logged after "listening"
	stop func() error  // cancels run and returns its result
}

// start runs usersvc with environ and waits until it listens.
func start(t *testing.T, environ []string) started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve"}, append([]string{"USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR=127.0.0.1:0", "USERSVC_BCRYPT_COST=4"}, environ...), pw)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var addr string
	for addr == "" && lines.Scan() {
		var entry struct{ Msg, Addr string }
		if err := json.Unmarshal(lines.Bytes(), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", lines.Text())
		}
		if entry.Msg == "listening" {
			addr = entry.Addr
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("usersvc stopped before listening: %v", <-done)
	}
	logs := &bytes.Buffer{}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(logs, pr); close(copied) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		err := <-done
		<-copied
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return started{base: "http://" + addr, logs: logs, stop: stop}
}

// call sends one request and decodes a JSON answer into out when given.
func call(t *testing.T, method, url, token, contentType, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, url, b, err)
		}
	}
	return res.StatusCode
}

func TestServeGeneratesDevSecretOnce(t *testing.T) {
	for _, tt := range []struct{ alg, made, notMade string }{
		{"EdDSA", "key_encryption_key", "jwt_secret"}, // the default
		{"HS256", "jwt_secret", "key_encryption_key"},
	} {
		t.Run(tt.alg, func(t *testing.T) {
			dir := t.TempDir()
			first := start(t, []string{"USERSVC_DATA_DIR=" + dir, "USERSVC_JWT_ALG=" + tt.alg})
			if err := first.stop(); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(filepath.Join(dir, tt.made))
			if err != nil {
				t.Fatalf("no generated %s: %v", tt.made, err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s mode = %v, want 0600", tt.made, info.Mode().Perm())
			}
			if _, err := os.Stat(filepath.Join(dir, tt.notMade)); err == nil {
				t.Errorf("%s was generated, though %s does not use it", tt.notMade, tt.alg)
			}
			if _, err := os.Stat(filepath.Join(dir, "usersvc.db")); err != nil {
				t.Errorf("no SQLite database in the data directory: %v", err)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"production HS256 without secret", []string{"USERSVC_ENV=production", "USERSVC_JWT_ALG=HS256"}, "USERSVC_JWT_SECRET"},
		{"production without key encryption key", []string{"USERSVC_ENV=production"}, "USERSVC_KEY_ENCRYPTION_KEY"},
		{"bad ttl", []string{"USERSVC_ACCESS_TOKEN_TTL=forever"}, "USERSVC_ACCESS_TOKEN_TTL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range [][]string{{"serve"}, {"migrate", "status"}} {
				err := run(context.Background(), args, tt.environ, io.Discard)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("run(%q) error = %v, want one naming %s", args, err, tt.want)
				}
			}
		})
	}
}

func TestRunUnreachableDatabase(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir(), "DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}
	if err := run(context.Background(), []string{"serve"}, environ, io.Discard); err == nil {
		t.Error("run(serve) with an unreachable database succeeded, want an error")
	}
}

func TestMigrateCommand(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	migrate := func(arg string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate", arg}, environ, &out); err != nil {
			t.Fatalf("migrate %s: %v", arg, err)
		}
		return out.String()
	}
	if out := migrate("status"); !strings.Contains(out, "pending") || strings.Contains(out, "applied") {
		t.Errorf("status on a new database = %q, want pending migrations", out)
	}
	// status only reads: goose's version table is not made by asking.
	wantNoTables(t, sqliteTables(t, filepath.Join(environ[0][len("USERSVC_DATA_DIR="):], "usersvc.db")))
	if out := migrate("up"); !strings.Contains(out, "OK") {
		t.Errorf("up = %q, want applied migrations", out)
	}
	if out := migrate("up"); !strings.Contains(out, "no migrations to apply") {
		t.Errorf("second up = %q, want nothing to apply", out)
	}
	if out := migrate("status"); !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Errorf("status after up = %q, want every migration applied", out)
	}
	if out := migrate("down"); !strings.Contains(out, "down") {
		t.Errorf("down = %q, want a rolled-back migration", out)
	}
	if out := migrate("status"); !strings.Contains(out, "pending") {
		t.Errorf("status after down = %q, want a pending migration", out)
	}
	for _, args := range [][]string{{"migrate"}, {"migrate", "sideways"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
}

func TestVersionHelpAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &out); err != nil || !strings.Contains(out.String(), "usersvc dev (commit unknown)") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, nil, &out); err != nil || !strings.Contains(out.String(), "migrate up|down|status") {
		t.Errorf("help = %q, %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command error = %v", err)
	}
}

func TestMain(m *testing.M) { storetest.Main(m) }

// TestDefaultLogWhileServing: while serving, slog's default logger and
// the log package write the service's JSON lines (zitadel's op logs only
// there); afterwards both are what they were.
func TestDefaultLogWhileServing(t *testing.T) {
	prev, w, flags := slog.Default(), stdlog.Writer(), stdlog.Flags()
	var buf bytes.Buffer
	restore := defaultLog(slog.NewJSONHandler(&buf, nil))
	slog.Warn("from a library")
	stdlog.Print("from the log package")
	restore()
	for _, want := range []string{`"level":"WARN","msg":"from a library"`, `"msg":"from the log package"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the service's log lacks %s:\n%s", want, buf.String())
		}
	}
	if slog.Default() != prev || stdlog.Writer() != w || stdlog.Flags() != flags {
		t.Error("the default loggers were not put back")
	}
}
