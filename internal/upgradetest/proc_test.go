package upgradetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on what a process may take.
const (
	commandTimeout = 2 * time.Minute  // a one-off command (migrate ...)
	startTimeout   = 30 * time.Second // from start to serving
	stopTimeout    = 20 * time.Second // from SIGTERM to exit
	outputTail     = 40               // lines of output shown with a failure
)

// process is a running usersvc whose output (stdout and stderr, one
// stream) is kept line by line.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the output ends and the process exited

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced when a line arrives or it exits
	exitErr error         // once done
}

// startProcess starts bin with args in an empty working directory (no
// .env), with only env and PATH for environment.
func startProcess(name, bin string, env []string, args ...string) (*process, error) {
	dir, err := os.MkdirTemp("", "upgradetest-cwd-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	_ = w.Close() // the child holds its own copy
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	go p.collect(r, dir)
	return p, nil
}

// collect keeps the output's lines until it ends, then waits for the exit.
func (p *process) collect(r *os.File, dir string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	_ = r.Close()
	err := p.cmd.Wait()
	_ = os.RemoveAll(dir)
	p.mu.Lock()
	p.exitErr = err
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// waitLine returns the first line of output that match accepts, waiting
// for it until ctx ends; it fails when the process exits without one.
func (p *process) waitLine(ctx context.Context, what string, match func(string) bool) (string, error) {
	for seen := 0; ; {
		p.mu.Lock()
		for ; seen < len(p.lines); seen++ {
			if match(p.lines[seen]) {
				line := p.lines[seen]
				p.mu.Unlock()
				return line, nil
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-p.done:
			if !p.hasMore(seen) {
				return "", fmt.Errorf("%s exited before %s: %w", p.name, what, exitError(p.exitErr))
			}
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no %s: %w", p.name, what, ctx.Err())
		}
	}
}

// hasMore reports whether lines beyond the first seen have arrived.
func (p *process) hasMore(seen int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines) > seen
}

// exitError is how a process ended: err, or for a clean exit an error
// saying so.
func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// count returns how many lines of output match accepts.
func (p *process) count(match func(string) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if match(l) {
			n++
		}
	}
	return n
}

// tail returns the last lines of output, for a failure message.
func (p *process) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := p.lines[max(0, len(p.lines)-outputTail):]
	return fmt.Sprintf("--- last %d lines of %s ---\n%s", len(lines), p.name, strings.Join(lines, "\n"))
}

// stop sends SIGTERM and waits for the exit (SIGKILL after stopTimeout);
// the error says whether it exited cleanly.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.name, stopTimeout)
	}
	if p.exitErr != nil {
		return fmt.Errorf("%s stopped: %w", p.name, p.exitErr)
	}
	return nil
}

// command runs bin with args to its end and returns its output.
func command(bin string, env []string, args ...string) (string, error) {
	p, err := startProcess(strings.Join(args, " "), bin, env, args...)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-time.After(commandTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := strings.Join(p.lines, "\n")
	if p.exitErr != nil {
		return out, fmt.Errorf("usersvc %s: %w\n%s", strings.Join(args, " "), p.exitErr, out)
	}
	return out, nil
}

// server is a serving usersvc.
type server struct {
	*process
	base string // http://127.0.0.1:port
}

// logLine is what the tests read of a JSON log line.
type logLine struct {
	Msg     string `json:"msg"`
	Addr    string `json:"addr"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// parseLog decodes a log line; ok is false for anything else.
func parseLog(s string) (l logLine, ok bool) {
	return l, json.Unmarshal([]byte(s), &l) == nil
}

// startServer starts `bin serve` on a free loopback port and waits until
// it logs that it listens there. On failure it stops it and the error
// carries its output.
func startServer(ctx context.Context, name, bin string, env []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProcess(name, bin, append(env, "USERSVC_ADDR="+addr), "serve")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	_, err = p.waitLine(ctx, "listening on "+addr, func(s string) bool {
		l, ok := parseLog(s)
		return ok && l.Msg == "listening" && l.Addr == addr
	})
	if err != nil {
		return nil, errors.Join(err, p.stop(), errors.New(p.tail()))
	}
	return &server{process: p, base: "http://" + addr}, nil
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// mustStart is startServer for tests that cannot go on without it; the
// server stops at the end of the test, which fails unless it stops cleanly.
func mustStart(t *testing.T, name, bin string, env []string) *server {
	t.Helper()
	s, err := startServer(t.Context(), name, bin, env)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("%v\n%s", err, s.tail())
		}
	})
	return s
}
