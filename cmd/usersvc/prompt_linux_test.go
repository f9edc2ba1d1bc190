package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openTerminal opens a pseudo-terminal and returns its two ends: what
// the test types into (the master) and what the command reads as its
// terminal (the slave). Linux's /dev/ptmx; the test skips where there is
// none.
func openTerminal(t *testing.T) (typing, terminal *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name the pseudo-terminal: %v", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = slave.Close() })
	return master, slave
}

// TestCreateAdminPromptsOnStderr: create-admin at a terminal wrote its
// prompts ("Password: ", "Repeat the password: ", the line about keeping
// the password with --promote-existing) on stdout, mixed into the output
// a script captures. They now go to stderr; stdout carries the result
// alone.
func TestCreateAdminPromptsOnStderr(t *testing.T) {
	environ := databases[0].environ(t)
	if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		typed  string
		result string // stdout, all of it
	}{
		{[]string{"--email", "root@example.com", "--username", "root"}, "typed at the terminal\ntyped at the terminal\n", "created administrator root "},
		{[]string{"--email", "root@example.com", "--username", "root", "--promote-existing"}, "a new typed password\na new typed password\n", "root ("},
	} {
		typing, terminal := openTerminal(t)
		if _, err := typing.WriteString(tt.typed); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		err := runWithStreams(context.Background(), append([]string{"create-admin"}, tt.args...), environ, terminal, &stdout, &stderr)
		if err != nil {
			t.Fatalf("create-admin %q at a terminal: %v", tt.args, err)
		}
		if !strings.HasPrefix(stdout.String(), tt.result) || strings.Count(stdout.String(), "\n") != 1 {
			t.Errorf("create-admin %q printed on stdout %q, want its one line of result alone, starting %q", tt.args, stdout.String(), tt.result)
		}
		if !strings.Contains(stderr.String(), "Password: ") || !strings.Contains(stderr.String(), "Repeat the password: ") {
			t.Errorf("create-admin %q printed on stderr %q, want the prompts", tt.args, stderr.String())
		}
	}
}
