// Command isolation shows that a login flood cannot starve cheap requests
// (issue 5): it starts usersvc, floods POST /api/v1/token with correct
// logins from many connections so that hashing is saturated, and meanwhile
// reads GET /api/v1/users/me at a steady pace. It reports the login
// throughput against the machine's hashing capacity at the same cost,
// measured in the same run with the server idle, and the latency of the
// reads.
//
//	go run ./bench/isolation [-cost 10] [-duration 20s] [-flood N] [-read-rate 50]
//
// The flood clients retry at once, without honouring Retry-After; with
// more connections than the server's hashing slots and queue, the excess
// is shed with 503s (counted, not part of the login throughput).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usersvc/usersvc/internal/security"
)

func main() {
	cost := flag.Int("cost", 10, "bcrypt cost of the server and of the capacity measurement")
	duration := flag.Duration("duration", 20*time.Second, "length of the flood")
	flood := flag.Int("flood", 16*runtime.NumCPU(), "concurrent login connections (default: 16 per CPU, within the server's default queue of 32 per hashing slot: hashing saturated, nothing shed)")
	readRate := flag.Int("read-rate", 50, "GET /users/me per second during the flood")
	bin := flag.String("bin", "", "usersvc binary (default: built from this tree)")
	flag.Parse()
	if err := run(*cost, *duration, *flood, *readRate, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "isolation:", err)
		os.Exit(1)
	}
}

func run(cost int, duration time.Duration, flood, readRate int, bin string) error {
	work, err := os.MkdirTemp("", "isolation")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "usersvc")
		build := exec.Command("go", "build", "-o", bin, "./cmd/usersvc")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}

	capBefore, err := hashCapacity(cost, 5*time.Second)
	if err != nil {
		return err
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	srv := exec.Command(bin, "serve")
	srv.Env = append(os.Environ(),
		"USERSVC_ADDR="+addr, "USERSVC_DATA_DIR="+work, "USERSVC_BCRYPT_COST="+fmt.Sprint(cost),
		"USERSVC_RATE_LIMITS=off", // one client address floods: measure hashing, not the limits
		"USERSVC_LOG_LEVEL=warn", "USERSVC_JWT_SECRET="+strings.Repeat("k", 48))
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Signal(os.Interrupt); _ = srv.Wait() }()
	base := "http://" + addr + "/api/v1"
	if err := waitReady("http://" + addr + "/healthz"); err != nil {
		return err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flood + 8}, Timeout: 30 * time.Second}
	const password = "isolation bench password"
	body := `{"email":"bench@example.com","username":"bench","password":"` + password + `"}`
	res, err := client.Post(base+"/register", "application/json", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("register: %s", res.Status)
	}
	token, err := login(client, base, password)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var ok, busy, other atomic.Int64
	var wg sync.WaitGroup
	for range flood {
		wg.Go(func() {
			for ctx.Err() == nil {
				form := url.Values{"username": {"bench"}, "password": {password}}.Encode()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/token", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						other.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	time.Sleep(2 * time.Second) // let the flood saturate hashing before reading
	var lat []time.Duration
	readErrs := 0
	tick := time.NewTicker(time.Second / time.Duration(readRate))
	okAtStart, start := ok.Load(), time.Now()
	for ctx.Err() == nil {
		<-tick.C
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			readErrs++
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	logins := ok.Load() - okAtStart
	tick.Stop()
	wg.Wait()

	capAfter, err := hashCapacity(cost, 5*time.Second)
	if err != nil {
		return err
	}
	capacity := (capBefore + capAfter) / 2
	slices.Sort(lat)
	pct := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	rate := float64(logins) / elapsed.Seconds()
	fmt.Printf("machine: %d cores (GOMAXPROCS %d), %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadavg())
	fmt.Printf("hashing capacity at bcrypt cost %d: %.1f hashes/s before, %.1f after, mean %.1f\n", cost, capBefore, capAfter, capacity)
	fmt.Printf("flood: %d connections for %s; measured over %.1fs: %d logins (%.1f/s = %.0f%% of capacity), %d busy 503s, %d other errors\n",
		flood, duration, elapsed.Seconds(), logins, rate, 100*rate/capacity, busy.Load(), other.Load())
	fmt.Printf("GET /users/me at %d/s during the flood: %d answered, %d failed; p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		readRate, len(lat), readErrs, pct(.50), pct(.90), pct(.99), ms(lat[len(lat)-1]))
	fmt.Printf("verdict: p99 <= 50 ms: %v; logins >= 90%% of capacity: %v\n", pct(.99) <= 50, rate >= 0.9*capacity)
	return nil
}

// hashCapacity is how many bcrypt verifications per second all cores do:
// one goroutine per core, each verifying in a loop for d.
func hashCapacity(cost int, d time.Duration) (float64, error) {
	h, err := security.NewBcrypt(cost)
	if err != nil {
		return 0, err
	}
	hash, err := h.Hash("capacity")
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				h.Verify(hash, "capacity")
				n.Add(1)
			}
		})
	}
	start := time.Now()
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

func login(c *http.Client, base, password string) (string, error) {
	form := url.Values{"username": {"bench"}, "password": {password}}.Encode()
	res, err := c.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		return "", fmt.Errorf("login: %s: %w", res.Status, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("login: %s: no access token", res.Status)
	}
	return tok.AccessToken, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(url string) error {
	for range 100 {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s never answered 200", url)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func loadavg() string {
	f, err := os.Open("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(fields[:3], " ")
}
