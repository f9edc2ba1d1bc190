// Package benchkit holds what the benchmark programs under bench/ share
// to run the built binary on loopback and to report the machine they ran
// on: a free port, the wait for the server to answer, a random secret for
// its settings, and the load average. Benchmarks only: tests inject
// clocks and never poll like WaitReady.
package benchkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// FreeAddr returns a loopback host:port nothing listens on now.
func FreeAddr() (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitReady polls url every 100 ms until it answers 200, for at most wait.
func WaitReady(url string, wait time.Duration) error {
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(url) //nolint:gosec,noctx // a loopback URL the bench built
		if err != nil {
			continue
		}
		_ = res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("%s never answered 200 in %s", url, wait)
}

// RandomSecret is 32 random bytes in hex, for a setting such as a key.
func RandomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// LoadAverage is the machine's load average over 1, 5 and 15 minutes,
// "unknown" where /proc/loadavg cannot be read: the benchmarks share the
// machine with whatever else runs on it, and say so with their figures.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
