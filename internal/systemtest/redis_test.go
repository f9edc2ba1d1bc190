package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// redisURL is the Redis the tests may use: USERSVC_TEST_REDIS_URL, else the
// local one. Without an answer the test skips, except in CI.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("USERSVC_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s: %v", u, err)
		}
		t.Skipf("no Redis at %s (%v): set USERSVC_TEST_REDIS_URL", u, err)
	}
	return u
}

// login posts the /token form and returns the status, the Retry-After and
// the detail.
func login(t *testing.T, base, username, password string) (int, http.Header, string) {
	t.Helper()
	var body struct{ Detail string }
	form := url.Values{"username": {username}, "password": {password}}.Encode()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, res.Header, body.Detail
}

// TestLimitsAreSharedThroughRedis runs two instances on one Redis: the
// per-address limit and the account lockout count requests to either, and
// a login's count taken back on one is gone for both.
func TestLimitsAreSharedThroughRedis(t *testing.T) {
	env := []string{
		"REDIS_URL=" + redisURL(t),
		"USERSVC_REDIS_PREFIX=test-" + uuid.NewString() + ":", // the shared Redis may hold other tests' keys
		"USERSVC_RATE_LIMIT_LOGIN=4/1m",
		"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT=off",
		"USERSVC_LOGIN_LOCKOUT_THRESHOLD=2",
	}
	a := start(t, env...)
	b := start(t, env...)

	// A login that proves its password counts while it runs and is taken
	// back, in Redis: the counts below, on both instances (each has a
	// database of its own), are the failures' alone.
	if status := call(t, "POST", a.base+"/api/v1/register", "", "application/json",
		`{"email":"ada@example.com","username":"ada","password":"correct horse battery"}`, nil); status != http.StatusCreated {
		t.Fatalf("register: %d, want 201", status)
	}
	if status, _, _ := login(t, a.base, "ada", "correct horse battery"); status != http.StatusOK {
		t.Fatalf("login on a: %d, want 200", status)
	}

	for i, base := range []string{a.base, b.base} {
		if status, _, _ := login(t, base, "ghost", "wrong password "+strconv.Itoa(i)); status != http.StatusUnauthorized {
			t.Fatalf("failed login on %s: %d, want 401", base, status)
		}
	}
	// Two failures, one on each instance, lock the account on both.
	status, h, detail := login(t, a.base, "ghost", "wrong password 3")
	if status != http.StatusTooManyRequests || !strings.HasPrefix(detail, "too many failed logins for this account") || h.Get("Retry-After") == "" {
		t.Errorf("3rd attempt on a: %d %q (Retry-After %q), want 429 locked", status, detail, h.Get("Retry-After"))
	}
	// Four requests from this address so far, across both instances; the
	// fifth is over the limit of 4 on either.
	if status, _, _ := login(t, b.base, "someone", "wrong password"); status != http.StatusUnauthorized {
		t.Errorf("4th request: %d, want 401", status)
	}
	status, h, detail = login(t, a.base, "someone-else", "wrong password")
	if status != http.StatusTooManyRequests || !strings.HasPrefix(detail, "too many requests: the limit is 4 per 1m0s") ||
		h.Get("Retry-After") == "" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("5th request: %d %q %v, want 429 over the shared limit", status, detail, h)
	}
}

// TestServesWhenRedisIsDown: with Redis unreachable the service serves,
// limits still hold (per instance), nothing answers 5xx, and the logs and
// metrics say so.
func TestServesWhenRedisIsDown(t *testing.T) {
	closedPort := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := start(t, "REDIS_URL=redis://"+closedPort, "USERSVC_RATE_LIMIT_LOGIN=3/1m")
	api := srv.base + "/api/v1"
	if status := call(t, "POST", api+"/register", "", "application/json",
		`{"email":"ada@example.com","username":"ada","password":"correct horse battery"}`, nil); status != http.StatusCreated {
		t.Fatalf("register with Redis down: %d, want 201", status)
	}
	if status, _, _ := login(t, srv.base, "ada", "correct horse battery"); status != http.StatusOK {
		t.Fatalf("login with Redis down: %d, want 200", status)
	}
	// The login that proved its password is not counted (an address many
	// people sign in from); three failures are.
	for range 3 {
		login(t, srv.base, "ada", "wrong password")
	}
	if status, _, _ := login(t, srv.base, "ada", "correct horse battery"); status != http.StatusTooManyRequests {
		t.Errorf("a login after 3 failures over a limit of 3 with Redis down: %d, want 429 (local limits hold)", status)
	}
	metrics := getText(t, srv.ops+"/metrics")
	for _, want := range []string{"usersvc_ratelimit_store_degraded 1", "usersvc_ratelimit_redis_errors_total "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	if !strings.Contains(srv.logs(), "Redis for rate limits is unreachable") {
		t.Errorf("logs do not say that Redis is unreachable:\n%s", srv.logs())
	}
}
