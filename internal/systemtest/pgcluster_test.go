package systemtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// pgBin is where Debian and Ubuntu install PostgreSQL 15's server programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// pgCluster is a PostgreSQL server of the test's own, in a temporary
// directory on a free port, run as the postgres OS user, so that a test
// may stop and start it without touching the shared server.
type pgCluster struct {
	dir, data string
	port      int
	URL       string
}

// newPGCluster initialises and starts a cluster, stopped and removed in
// t.Cleanup. It skips (fails in CI) unless run as root on a machine with
// PostgreSQL 15's programs and a postgres user.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "a throwaway PostgreSQL cluster needs root, to run it as the postgres user")
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		skipOrFail(t, "PostgreSQL 15 server programs are missing: "+err.Error())
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		skipOrFail(t, "no postgres OS user: "+err.Error())
	}
	// Not t.TempDir(): its parents are private to root and the server runs
	// as postgres.
	dir, err := os.MkdirTemp("", "usersvc-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{dir: dir, data: filepath.Join(dir, "data"), port: freePort(t)}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	c.run(t, "initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	c.Start(t)
	t.Cleanup(func() {
		_ = c.command("pg_ctl", "-D", c.data, "stop", "-m", "immediate", "-w").Run()
	})
	return c
}

// Start starts the server and waits until it accepts connections.
func (c *pgCluster) Start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB", c.port, c.dir)
	c.run(t, "pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// Stop stops the server the way an operator's restart does: fast
// shutdown, which ends every session.
func (c *pgCluster) Stop(t *testing.T) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.data, "-m", "fast", "-w", "-t", "60", "stop")
}

func (c *pgCluster) command(program string, args ...string) *exec.Cmd {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, program)}, args...)...)
	cmd.Dir = c.dir
	return cmd
}

func (c *pgCluster) run(t *testing.T, program string, args ...string) {
	t.Helper()
	if out, err := c.command(program, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", program, args, err, out, log)
	}
}

// Signal sends sig to the server and every process it started (its
// backends), for example SIGSTOP to make it hang with its sockets open.
func (c *pgCluster) Signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	pids := []int{pid}
	if out, err := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if child, err := strconv.Atoi(f); err == nil {
				pids = append(pids, child)
			}
		}
	}
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil {
			t.Errorf("signal %v to %d: %v", sig, p, err)
		}
	}
}
