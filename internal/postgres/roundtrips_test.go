package postgres_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// Where the database is across a network, each round trip a request waits
// for costs its latency (docs/benchmarks.md, "A login in 7 round trips
// instead of 12"). These tests count the round trips of the service's
// writes through a proxy on loopback, so that a change that adds one is
// seen and made on purpose: the bounds move only with the docs.

// The most round trips each operation may make, warm (statements
// prepared on the connection).
const (
	// loginTrips: the account by its login, then BEGIN, the account
	// again (locked: a change ending its sessions waits for the login, or
	// the login sees it), its authenticator app (whether the login asks
	// for a code), the session with its first token (one statement), the
	// session cap, the audit event and COMMIT. It was 12 before
	// savepoints travelled with their statement, 7 before the locked read
	// (2026-12-07: a login finishing during a password change outlived
	// it).
	loginTrips = 8
	// registerTrips: BEGIN, the user, whether an email change's undo link
	// holds its address (EmailChanges.Held), its audit event, the user read
	// back for the user.created event, COMMIT. It was 7 while the user was
	// stored in a nested transaction of its own, then 5 until the held
	// address was checked (a registration waits on its password's hash far
	// longer than on one more statement).
	registerTrips = 6
)

func TestWritesRoundTrips(t *testing.T) {
	svc, trips := countedService(t, 0)
	ctx := t.Context()

	register := func(name string) {
		t.Helper()
		if _, err := svc.Register(ctx, user.Registration{Email: name + "@example.com", Username: name, Password: "correct horse battery"}); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	}
	login := func(name string) {
		t.Helper()
		if _, err := svc.Login(ctx, name, "correct horse battery", ""); err != nil {
			t.Fatalf("login %s: %v", name, err)
		}
	}
	register("warm") // prepares the statements on the one connection
	login("warm")

	for _, tt := range []struct {
		name string
		max  int
		do   func()
	}{
		{"register", registerTrips, func() { register("ada") }},
		{"login", loginTrips, func() { login("ada") }},
	} {
		before := trips.count()
		tt.do()
		got := trips.count() - before
		t.Logf("%s: %d round trips", tt.name, got)
		if got > tt.max {
			t.Errorf("%s makes %d round trips to PostgreSQL, want at most %d", tt.name, got, tt.max)
		}
		if got == 0 {
			t.Errorf("%s: the proxy counted no round trip: it does not see the store's traffic", tt.name)
		}
	}
}

// BenchmarkLoginOverANetwork is one login at a time with each round trip
// to the database held for a network's round-trip time: what a login
// waits for when PostgreSQL is on another host (docs/benchmarks.md).
//
//	go test -run '^$' -bench LoginOverANetwork ./internal/postgres
func BenchmarkLoginOverANetwork(b *testing.B) {
	// rtt < 0: no proxy at all, the database on loopback. Whole
	// milliseconds: a sleep of less overshoots by a large share.
	for _, rtt := range []time.Duration{-1, 0, time.Millisecond, 2 * time.Millisecond} {
		name := "rtt=" + rtt.String()
		if rtt < 0 {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			svc, trips := countedService(b, rtt)
			ctx := b.Context()
			if _, err := svc.Register(ctx, user.Registration{Email: "ada@example.com", Username: "ada", Password: "correct horse battery"}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Login(ctx, "ada", "correct horse battery", ""); err != nil { // warm: prepares the statements
				b.Fatal(err)
			}
			before := trips.count()
			for b.Loop() {
				if _, err := svc.Login(ctx, "ada", "correct horse battery", ""); err != nil {
					b.Fatal(err)
				}
			}
			if rtt >= 0 {
				b.ReportMetric(float64(trips.count()-before)/float64(b.N), "round-trips/op")
			}
		})
	}
}

// countedService is a service over a fresh database reached through a
// counting proxy that holds each round trip for rtt (with rtt < 0
// directly, the proxy counting nothing), on one connection:
// its statements are prepared once, so that warm operations are counted
// alone.
func countedService(t testing.TB, rtt time.Duration) (*user.Service, *tripCounter) {
	t.Helper()
	server := storetest.PostgresURL(t)
	trips := countingProxy(t, server, rtt)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	if rtt >= 0 {
		u.Host = trips.addr
	}
	q := u.Query()
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	db, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hasher, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := security.NewHS256([]byte(strings.Repeat("k", 32)), "test", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// No cap on an account's sessions: a login beyond it also ends the
	// oldest session and records that, one round trip more.
	policy := user.Policy{MaxSessions: 1 << 20}
	return user.NewService(user.Deps{Stores: db.Stores(), Hasher: hasher, Tokens: tokens}, policy), trips
}

// tripCounter is a TCP proxy to a PostgreSQL server that counts the round
// trips its clients make: each Sync (the end of an extended-protocol
// exchange, a batch's included) and each simple Query is one wait for the
// server. It holds each for rtt before passing it on, as a network between
// the service and its database would.
type tripCounter struct {
	addr  string
	rtt   time.Duration
	trips atomic.Int64
}

func (c *tripCounter) count() int { return int(c.trips.Load()) }

// countingProxy listens on loopback and forwards each connection to the
// server of serverURL, counting its client's round trips and holding each
// for rtt.
func countingProxy(t testing.TB, serverURL string, rtt time.Duration) *tripCounter {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tripCounter{addr: ln.Addr().String(), rtt: rtt}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Errorf("proxy: dial %s: %v", u.Host, err)
				_ = client.Close()
				return
			}
			wg.Go(func() {
				_, _ = io.Copy(client, server)
				_ = client.Close()
			})
			wg.Go(func() {
				c.forward(server, client)
				_ = server.Close()
			})
		}
	})
	return c
}

// pgxPing is the query of pgx's liveness check, which its pool sends on
// a connection that was idle for over a second before handing it out:
// a slow machine's pause, not the operation's work, so it is not counted.
const pgxPing = "-- ping\x00"

// forward copies the frontend's messages from client to server, counting
// Sync ('S') and Query ('Q') and holding each for c.rtt. The first
// message, the startup, has no type byte; every later one is a type byte
// and a length that counts itself. The messages are small (the service's
// statements and arguments).
func (c *tripCounter) forward(server io.Writer, client io.Reader) {
	var head [5]byte
	if _, err := io.ReadFull(client, head[:4]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(head[:4]))
	copy(startup, head[:4])
	if _, err := io.ReadFull(client, startup[4:]); err != nil {
		return
	}
	if _, err := server.Write(startup); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		msg := make([]byte, 1+binary.BigEndian.Uint32(head[1:]))
		copy(msg, head[:])
		if _, err := io.ReadFull(client, msg[5:]); err != nil {
			return
		}
		if head[0] == 'S' || (head[0] == 'Q' && string(msg[5:]) != pgxPing) {
			c.trips.Add(1)
			if c.rtt > 0 {
				time.Sleep(c.rtt) // the network's delay, not a wait for anything
			}
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
	}
}
