// Package systemtest runs usersvc as its operators run it: the binary built
// from cmd/usersvc, started as a child process with its settings in the
// environment, spoken to over HTTP on loopback, stopped with SIGTERM or
// killed with SIGKILL. Its tests are the slow, whole-system ones: crash
// consistency, database outages and hangs, hostile input at volume, leaks,
// graceful shutdown, the docs page in a browser, several replicas on one
// database. `make systemtest` runs them; `make test` does not.
//
// This file holds the process helpers every test uses; the tests are in the
// _test.go files.
package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the environment variable that gives the path of a usersvc
// binary to test, built beforehand (scripts/systemtest does, once). Unset,
// the tests build one, once per test process.
const EnvBinary = "USERSVC_TEST_BINARY"

const (
	// startWait bounds how long usersvc may take to listen and answer
	// /healthz: migrations on a fresh database included.
	startWait = 60 * time.Second
	// stopWait bounds a graceful shutdown: the service's own default grace
	// (USERSVC_SHUTDOWN_TIMEOUT, 15 s) and some.
	stopWait = 30 * time.Second
	// pollEvery is how often waitFor looks at its condition.
	pollEvery = 50 * time.Millisecond
)

// build is the binary of this test process, made at most once. It is
// package state by necessity: every test shares the one build, and TestMain
// removes it once they are over.
var build struct {
	once      sync.Once
	path, dir string // dir is set when the build is ours to remove
	err       error
}

// binary returns the path of the usersvc binary under test: EnvBinary's, or
// one built on first use with `go build ./cmd/usersvc`.
func binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv(EnvBinary); p != "" {
			build.path, build.err = filepath.Abs(p)
			return
		}
		build.dir, build.err = os.MkdirTemp("", "usersvc-systemtest-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "usersvc")
		out, err := exec.CommandContext(context.Background(), "go", "build", "-o", build.path, //nolint:gosec // builds the package under test into our own directory
			"github.com/usersvc/usersvc/cmd/usersvc").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/usersvc: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// removeBuild deletes the binary binary built, if it built one.
func removeBuild() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

// environment is a child's environment: the test process's, without any
// setting of usersvc's (so nothing of the developer's shell or of CI leaks
// in), then the defaults every test wants (any free loopback port, the
// cheapest bcrypt cost), then environ. Later entries win.
func environment(environ []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USERSVC_") && !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "REDIS_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR=127.0.0.1:0", "USERSVC_BCRYPT_COST=4")
	return append(env, environ...)
}

// process is `usersvc serve` running as a child process.
type process struct {
	base string // http://127.0.0.1:PORT
	ops  string // the operations listener (/metrics), http://127.0.0.1:PORT
	cmd  *exec.Cmd
	out  *output

	exited  chan struct{} // closed once the process has exited
	exitErr error         // how it exited; read only after exited is closed
}

// start runs `usersvc serve` with environ (a fresh data directory unless
// environ names one) and returns once it answers /healthz. The process is
// killed at the end of the test if still running; if the test failed, the
// end of its log is printed.
func start(t testing.TB, environ ...string) *process {
	t.Helper()
	p := &process{out: &output{listening: make(chan string, 1)}, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(context.Background(), binary(t), "serve") //nolint:gosec // the binary under test; killed in t.Cleanup
	p.cmd.Env = environment(append([]string{"USERSVC_DATA_DIR=" + t.TempDir()}, environ...))
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("the end of usersvc's log (%s):\n%s", p.base, lastLines(p.logs(), 30))
		}
	})
	timeout := time.NewTimer(startWait)
	defer timeout.Stop()
	select {
	case addr := <-p.out.listening:
		p.base = "http://" + addr
		p.ops = "http://" + logged(p.logs(), "operations listening") // logged before the public listener
	case <-p.exited:
		t.Fatalf("usersvc exited before listening: %v\n%s", p.exitErr, p.logs())
	case <-timeout.C:
		t.Fatalf("usersvc did not listen within %v:\n%s", startWait, p.logs())
	}
	client := &http.Client{Timeout: time.Second}
	waitFor(t, startWait, "usersvc to answer /healthz", func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.base+"/healthz", nil)
		if err != nil {
			return false
		}
		res, err := client.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// stop sends SIGTERM and waits for the process to exit, killing it if it
// takes longer than stopWait. It returns how the process exited: nil for
// status 0.
func (p *process) stop(t testing.TB) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only once it has exited
	timeout := time.NewTimer(stopWait)
	defer timeout.Stop()
	select {
	case <-p.exited:
	case <-timeout.C:
		t.Errorf("usersvc still running %v after SIGTERM: killing it", stopWait)
		p.kill()
	}
	return p.exitErr
}

// kill sends SIGKILL (no shutdown, nothing flushed) and waits for the exit.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// logs returns everything the process wrote to stdout and stderr so far:
// all of it once it has exited.
func (p *process) logs() string { return p.out.String() }

// command runs `usersvc args...` with environ to completion, and returns
// what it wrote (stdout and stderr) and how it exited.
func command(t testing.TB, environ []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...) //nolint:gosec // the binary under test, with the test's arguments
	cmd.Env = environment(environ)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// output collects what a process writes, and hands on the address of the
// first "listening" log line.
type output struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	scanned   int         // bytes of buf already searched for the line
	listening chan string // gets the address once; nil afterwards
}

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	for o.listening != nil {
		rest := o.buf.Bytes()[o.scanned:]
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			break
		}
		o.scanned += end + 1
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(rest[:end], &entry) == nil && entry.Msg == "listening" {
			o.listening <- entry.Addr
			o.listening = nil
		}
	}
	return len(b), nil
}

// logged returns the addr of the first log line of msg in logs, "" when
// there is none.
func logged(logs, msg string) string {
	for line := range strings.Lines(logs) {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == msg {
			return entry.Addr
		}
	}
	return ""
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback TCP port nothing listens on at the moment.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it holds, failing the test once limit has
// passed.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(limit, cond) {
		t.Fatalf("gave up after %v waiting for %s", limit, what)
	}
}

// poll looks at cond every pollEvery until it holds or limit has passed,
// and says whether it held. The system under test is another process:
// polling is how a test learns that something happened there.
func poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
