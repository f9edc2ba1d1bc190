package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/storetest"
)

// TestStartFailuresNameTheVariable: serve failing to start says which
// variable to fix and what is wrong with its value: a port already in use
// names USERSVC_ADDR or USERSVC_OPS_ADDR, an unreachable database or
// refused credentials DATABASE_URL (its password masked), an unusable data
// directory USERSVC_DATA_DIR. Each exits with status 1.
func TestStartFailuresNameTheVariable(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := closed.Addr().String()
	closed.Close()
	server, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	refused := *server
	refused.User = url.UserPassword("no_such_role_ops", "s3cret-pw")
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"public port in use", []string{"USERSVC_ADDR=" + busy.Addr().String()}, "USERSVC_ADDR=" + busy.Addr().String() + ": cannot listen"},
		{"operations port in use", []string{"USERSVC_OPS_ADDR=" + busy.Addr().String()}, "USERSVC_OPS_ADDR=" + busy.Addr().String() + ": cannot listen"},
		{"database unreachable", []string{"DATABASE_URL=postgres://ada:s3cret-pw@" + nobody + "/usersvc?connect_timeout=2"}, "DATABASE_URL=postgres://ada:xxxxx@" + nobody},
		{"credentials refused", []string{"DATABASE_URL=" + refused.String()}, "DATABASE_URL=postgres://no_such_role_ops:xxxxx@"},
		{"data directory is a file", []string{"USERSVC_DATA_DIR=" + filepath.Join(notADir, "data")}, "USERSVC_DATA_DIR=" + filepath.Join(notADir, "data")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			environ := append([]string{
				"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_ADDR=127.0.0.1:0", "USERSVC_OPS_ADDR=127.0.0.1:0", "USERSVC_BCRYPT_COST=4",
			}, tt.environ...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve"}, environ, io.Discard)
			if err == nil {
				t.Fatal("serve started, want it to fail")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("serve = %v\nwant an error containing %q, never the password", err, tt.want)
			}
			if code := exitCode(err); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
		})
	}
}
