package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usersvc/usersvc/internal/user"
)

// TestTranslateUnavailable checks which driver errors become
// ErrUnavailable (answered 503 with Retry-After): connection failures and
// the server going away, never errors of the statement itself.
func TestTranslateUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"closed", net.ErrClosed, true},
		{"deadline", context.DeadlineExceeded, true},
		{"conn closed mid-transaction", fmt.Errorf("failed to deallocate cached statement(s): %w", pgconn.ErrConnClosed), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"check violation", &pgconn.PgError{Code: "23514"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"other", errors.New("scan: bad value"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := translate(tt.err, "op")
			if got := errors.Is(err, user.ErrUnavailable); got != tt.want {
				t.Errorf("translate(%v) = %v; ErrUnavailable %v, want %v", tt.err, err, got, tt.want)
			}
			if tt.want && !errors.Is(err, tt.err) {
				t.Errorf("translate(%v) = %v lost the cause", tt.err, err)
			}
		})
	}
}

// TestOpenClosedPortIsUnavailable checks that a database nobody listens
// for fails fast with a connection error that translate calls unavailable.
func TestOpenClosedPortIsUnavailable(t *testing.T) {
	_, err := Open(t.Context(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if !errors.Is(translate(err, "open"), user.ErrUnavailable) {
		t.Errorf("Open of a closed port = %v, want a connection error", err)
	}
}

// TestPoolSizeDefault checks the pool's size: defaultMaxConns when the
// database URL sets none, whatever the machine's cores, and the URL's own
// pool_max_conns in either form of the URL, but not a value (a password)
// that merely contains the name.
func TestPoolSizeDefault(t *testing.T) {
	for _, c := range []struct {
		url  string
		want int32
	}{
		{"postgres://u@127.0.0.1:5432/x?sslmode=disable", defaultMaxConns},
		{"host=127.0.0.1 user=u dbname=x sslmode=disable", defaultMaxConns},
		{"postgres://u@127.0.0.1:5432/x?sslmode=disable&pool_max_conns=3", 3},
		{"host=127.0.0.1 user=u dbname=x pool_max_conns=20", 20},
		{"host=127.0.0.1 user=u dbname=x pool_max_conns=3", 3},
		{"host=127.0.0.1 user=u dbname=x pool_max_conns = 3", 3},
		// The name as part of a value, not a setting: the service's default.
		{"postgres://u:pool_max_conns=3@127.0.0.1:5432/x?sslmode=disable", defaultMaxConns},
		{"postgres://u:pool_max_conns@127.0.0.1:5432/x?application_name=pool_max_conns", defaultMaxConns},
		{"host=127.0.0.1 user=u password='pool_max_conns=3' dbname=x", defaultMaxConns},
		{"host=127.0.0.1 user=u password=xpool_max_conns dbname=x", defaultMaxConns},
		// The name percent-encoded is still the setting, as pgxpool reads it.
		{"postgres://u@127.0.0.1:5432/x?pool%5Fmax%5Fconns=3", 3},
	} {
		cfg, err := poolConfig(c.url)
		if err != nil {
			t.Fatalf("poolConfig(%q): %v", c.url, err)
		}
		if cfg.MaxConns != c.want {
			t.Errorf("poolConfig(%q).MaxConns = %d, want %d", c.url, cfg.MaxConns, c.want)
		}
		if cfg.ConnConfig.ConnectTimeout != defaultConnectTimeout {
			t.Errorf("poolConfig(%q): connect timeout %s, want %s", c.url, cfg.ConnConfig.ConnectTimeout, defaultConnectTimeout)
		}
	}
	if _, err := poolConfig("postgres://u@127.0.0.1:5432/x?pool_max_conns=many"); err == nil {
		t.Error("poolConfig accepted pool_max_conns=many")
	}
}
