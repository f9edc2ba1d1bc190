package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/clientip"
	"github.com/usersvc/usersvc/internal/hashpool"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/metrics"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// peerHeader lets a test pick the socket address a request comes from.
const peerHeader = "X-Test-Peer"

// withPeer sets RemoteAddr from peerHeader, as the socket would.
func withPeer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get(peerHeader); p != "" {
			r.RemoteAddr = p
			r.Header.Del(peerHeader)
		}
		h.ServeHTTP(w, r)
	})
}

// abuseServer is the real handler with the protections serve wires in,
// over store (shared by replicas when it is Redis).
type abuseServer struct {
	*server
	metrics *metrics.Metrics
}

type abuseSetup struct {
	store   ratelimit.Store
	limits  httpapi.Limits
	lockout *ratelimit.LockoutPolicy
	trusted []netip.Prefix
	svcOpts []user.Option
	hasher  user.Hasher
}

func newAbuseServer(t *testing.T, repo user.Repository, s abuseSetup) *abuseServer {
	t.Helper()
	bc, tokens := newSecurity(t)
	var hasher user.Hasher = bc
	if s.hasher != nil {
		hasher = s.hasher
	}
	if s.store == nil {
		s.store = ratelimit.NewMemory()
	}
	opts := s.svcOpts
	if s.lockout != nil {
		opts = append(opts, user.WithLoginGuard(ratelimit.NewLockout(s.store, *s.lockout)))
	}
	s.limits.Limiter = ratelimit.NewLimiter(s.store)
	m := metrics.New()
	logs := &syncBuffer{}
	h := httpapi.New(user.NewService(repo, hasher, tokens, opts...), httpapi.Options{
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Metrics:  m,
		Limits:   &s.limits,
		ClientIP: clientip.New(s.trusted),
	})
	return &abuseServer{server: &server{t: t, h: withPeer(h), logs: logs}, metrics: m}
}

func from(peer string, xff ...string) http.Header {
	h := http.Header{peerHeader: {peer}}
	for _, v := range xff {
		h.Add("X-Forwarded-For", v)
	}
	return h
}

func (s *abuseServer) loginFrom(h http.Header, login, password string) response {
	s.t.Helper()
	form := url.Values{"username": {login}, "password": {password}}.Encode()
	return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded", header: h})
}

// want429 checks a refusal: the detail, Retry-After and the rate-limit
// headers.
func want429(t *testing.T, res response, detail string) {
	t.Helper()
	body := wantProblem(t, res, http.StatusTooManyRequests, "")
	if d, _ := body["detail"].(string); !strings.HasPrefix(d, detail) {
		t.Errorf("detail = %q, want it to start with %q", d, detail)
	}
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want whole seconds >= 1", res.Header.Get("Retry-After"))
	}
	if res.Header.Get("X-RateLimit-Remaining") != "0" || res.Header.Get("X-RateLimit-Limit") == "" ||
		res.Header.Get("X-RateLimit-Reset") == "" || !strings.Contains(res.Header.Get("RateLimit"), ";r=0;t=") ||
		res.Header.Get("RateLimit-Policy") == "" {
		t.Errorf("rate-limit headers missing or wrong: %v", res.Header)
	}
}

func TestRateLimitPerIP(t *testing.T) {
	s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{limits: httpapi.Limits{
		Login:    ratelimit.Rule{Name: "login", Limit: 3, Window: time.Minute},
		Register: ratelimit.Rule{Name: "register", Limit: 2, Window: time.Hour},
	}})
	attacker := from("203.0.113.7:4000")
	for i := range 3 {
		res := s.loginFrom(attacker, "nobody"+strconv.Itoa(i), "wrong password")
		wantProblem(t, res, http.StatusUnauthorized, "")
		if got, want := res.Header.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want {
			t.Errorf("attempt %d: X-RateLimit-Remaining = %q, want %q", i+1, got, want)
		}
		if got := res.Header.Get("RateLimit-Policy"); got != `"login";q=3;w=60` {
			t.Errorf("RateLimit-Policy = %q", got)
		}
	}
	want429(t, s.loginFrom(attacker, "nobody9", "wrong password"), "too many requests: the limit is 3 per 1m0s")
	if res := s.loginFrom(from("198.51.100.9:4000"), "nobody", "wrong password"); res.Status != http.StatusUnauthorized {
		t.Errorf("another address: got %v, want 401 (its own count)", res)
	}
	// IPv6: one /64 is one client, however many addresses it uses.
	for i := range 3 {
		s.loginFrom(from("[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:4000"), "nobody", "wrong password")
	}
	want429(t, s.loginFrom(from("[2001:db8:1:2:ffff::9]:4000"), "nobody", "x"), "too many requests")
	if res := s.loginFrom(from("[2001:db8:1:3::1]:4000"), "nobody", "x"); res.Status != http.StatusUnauthorized {
		t.Errorf("another /64: got %v, want 401", res)
	}

	for range 2 {
		a := newAccount()
		if res := s.do(req{method: "POST", path: "/api/v1/register", body: a.json(), header: attacker}); res.Status != http.StatusCreated {
			t.Fatalf("register: got %v, want 201", res)
		}
	}
	res := s.do(req{method: "POST", path: "/api/v1/register", body: newAccount().json(), header: attacker})
	want429(t, res, "too many requests: the limit is 2 per 1h0m0s")
	if !strings.Contains(string(s.do(req{method: "GET", path: "/metrics"}).Body), `usersvc_rate_limited_total{limit="register"} 1`) {
		t.Error("/metrics does not count the refused registration")
	}
}

func TestRateLimitPerAccountFromAnyIP(t *testing.T) {
	s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{limits: httpapi.Limits{
		LoginAccount: ratelimit.Rule{Name: "login-account", Limit: 3, Window: time.Minute},
	}})
	a := newAccount()
	s.register(a)
	for i := range 3 {
		ip := "203.0.113." + strconv.Itoa(i+1) + ":4000"
		if res := s.loginFrom(from(ip), a.Username, "wrong password"); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %v, want 401", i+1, res)
		}
	}
	// The same account by another spelling, from yet another address.
	want429(t, s.loginFrom(from("198.51.100.1:4000"), strings.ToUpper(a.Username), a.Password), "too many requests")
	if res := s.loginFrom(from("198.51.100.1:4000"), newAccount().Username, "x"); res.Status != http.StatusUnauthorized {
		t.Errorf("another account: got %v, want 401", res)
	}
}

func TestSpoofedForwardedForIsIgnored(t *testing.T) {
	limits := httpapi.Limits{Login: ratelimit.Rule{Name: "login", Limit: 1, Window: time.Minute}}
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	t.Run("untrusted peer", func(t *testing.T) {
		s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{limits: limits, trusted: lb})
		s.loginFrom(from("203.0.113.7:4000", "1.1.1.1"), "nobody", "x")
		// A new forged address each time does not make a new client.
		want429(t, s.loginFrom(from("203.0.113.7:4000", "2.2.2.2"), "nobody", "x"), "too many requests")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{limits: limits, trusted: lb})
		s.loginFrom(from("10.0.0.5:4000", "1.1.1.1"), "nobody", "x")
		if res := s.loginFrom(from("10.0.0.5:4000", "2.2.2.2"), "nobody", "x"); res.Status != http.StatusUnauthorized {
			t.Errorf("another client behind the load balancer: got %v, want 401", res)
		}
		// The client forges a hop left of the one the proxy appended.
		want429(t, s.loginFrom(from("10.0.0.5:4000", "9.9.9.9, 1.1.1.1"), "nobody", "x"), "too many requests")
	})
}

func TestLockoutAndReset(t *testing.T) {
	for _, st := range stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			s := newAbuseServer(t, st.Open(t), abuseSetup{lockout: &ratelimit.LockoutPolicy{
				Threshold: 3, Window: time.Minute, Cooldown: 300 * time.Millisecond,
			}})
			a := newAccount()
			s.register(a)
			for i := range 3 {
				ip := "203.0.113." + strconv.Itoa(i+1) + ":4000"
				wantProblem(t, s.loginFrom(from(ip), a.Username, "wrong password"), http.StatusUnauthorized, "incorrect username or password")
			}
			// Locked, whatever the address, whatever the spelling, even with
			// the right password.
			res := s.loginFrom(from("198.51.100.1:4000"), a.Email, a.Password)
			wantProblem(t, res, http.StatusTooManyRequests, "")
			if d := res.object(t)["detail"].(string); !strings.HasPrefix(d, "too many failed logins for this account: try again in") {
				t.Errorf("detail = %q", d)
			}
			if res.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			// An unknown account locks just the same, so locking tells nothing.
			for range 3 {
				s.loginFrom(from("198.51.100.1:4000"), "ghost", "wrong password")
			}
			wantProblem(t, s.loginFrom(from("198.51.100.1:4000"), "ghost", "x"), http.StatusTooManyRequests, "")

			time.Sleep(350 * time.Millisecond) // the cool-down
			s.token(a.Username, a.Password)
			// The success reset the count: two more failures do not lock.
			for range 2 {
				s.loginFrom(from("203.0.113.1:4000"), a.Username, "wrong password")
			}
			s.token(a.Username, a.Password)
			metrics := string(s.do(req{method: "GET", path: "/metrics"}).Body)
			for _, want := range []string{`usersvc_logins_total{outcome="success"} 2`, `usersvc_logins_total{outcome="failure"} 8`, `usersvc_logins_total{outcome="locked"} 2`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

func TestPasswordPolicyOverHTTP(t *testing.T) {
	breached := func(pw string) bool { return strings.EqualFold(pw, "password1234") }
	s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{svcOpts: []user.Option{
		user.WithPasswordPolicy(user.PasswordPolicy{MinChars: 12, Breached: breached}),
	}})
	for _, tt := range []struct{ password, detail string }{
		{"Password1234", "password: is too common: it appears in lists of breached passwords"},
		{"eleven char", "password: must be at least 12 characters"},
		{"Policy.User@Example.com", "password: must not be the same as your email or username"},
	} {
		body := `{"email":"policy.user@example.com","username":"policy","password":"` + tt.password + `"}`
		res := s.do(req{method: "POST", path: "/api/v1/register", body: body})
		wantProblem(t, res, http.StatusUnprocessableEntity, "")
		if d := res.object(t)["detail"].(string); !strings.HasPrefix(d, tt.detail) {
			t.Errorf("%q: detail = %q, want %q", tt.password, d, tt.detail)
		}
	}
	a := account{Email: "ok@example.com", Username: "okay", Password: "long enough phrase"}
	s.register(a)
	tok := s.token(a.Username, a.Password)
	res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: tok,
		body: `{"current_password":"long enough phrase","new_password":"PASSWORD1234"}`})
	wantProblem(t, res, http.StatusUnprocessableEntity, "")
	if d := res.object(t)["detail"].(string); !strings.HasPrefix(d, "new_password: is too common") {
		t.Errorf("detail = %q", d)
	}
}

// TestSaturatedHashingSheds: with every hashing slot taken and the queue
// full, logins get 503 with Retry-After at once, while GET /users/me,
// which hashes nothing, is served as usual.
func TestSaturatedHashingSheds(t *testing.T) {
	pool, err := hashpool.New(1, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{svcOpts: []user.Option{user.WithHashGate(pool)}})
	a, tok := s.signedUp()
	release, err := pool.Acquire(context.Background()) // a login flood holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	res := s.loginAs(a.Username, a.Password)
	wantProblem(t, res, http.StatusServiceUnavailable, user.ErrBusy.Error())
	if res.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", res.Header.Get("Retry-After"))
	}
	start := time.Now()
	if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}); res.Status != http.StatusOK {
		t.Errorf("GET /users/me while hashing is saturated: got %v, want 200", res)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("GET /users/me took %s while hashing is saturated", d)
	}
	if !strings.Contains(string(s.do(req{method: "GET", path: "/metrics"}).Body), `usersvc_logins_total{outcome="busy"} 1`) {
		t.Error("/metrics does not count the busy login")
	}
}

// TestConstantTimeLoginUnderProtections: with the gate, the lockout and
// argon2id, unknown user, wrong password and inactive account each cost one
// verification and give the same 401.
func TestConstantTimeLoginUnderProtections(t *testing.T) {
	argon, err := security.NewArgon2id(security.Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := security.NewBcrypt(4)
	h := &countVerifies{Passwords: security.NewPasswords(argon, bc, argon)}
	pool, _ := hashpool.New(2, 4, time.Second)
	repo := usertest.NewMemory()
	s := newAbuseServer(t, repo, abuseSetup{hasher: h, svcOpts: []user.Option{user.WithHashGate(pool)},
		lockout: &ratelimit.LockoutPolicy{Threshold: 10, Window: time.Minute, Cooldown: time.Minute}})
	a := newAccount()
	s.register(a)
	off := newAccount()
	id := s.register(off)["id"].(string)
	deactivate(t, repo, id)
	var bodies []string
	for _, c := range [][2]string{{"ghost", "whatever pw"}, {a.Username, "wrong password"}, {off.Username, off.Password}} {
		before := h.n()
		res := s.loginAs(c[0], c[1])
		wantProblem(t, res, http.StatusUnauthorized, "incorrect username or password")
		bodies = append(bodies, string(res.Body))
		if got := h.n() - before; got != 1 {
			t.Errorf("login %q: %d verifications, want 1", c[0], got)
		}
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("bodies differ: %q", bodies)
	}
}

type countVerifies struct {
	*security.Passwords
	mu       sync.Mutex
	verifies int
}

func (c *countVerifies) Verify(hash, password string) bool {
	c.mu.Lock()
	c.verifies++
	c.mu.Unlock()
	return c.Passwords.Verify(hash, password)
}

func (c *countVerifies) n() int { c.mu.Lock(); defer c.mu.Unlock(); return c.verifies }

func deactivate(t *testing.T, repo *usertest.Memory, id string) {
	t.Helper()
	uid, err := uuid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	repo.SetActive(uid, false)
}

// TestLockoutSparesAKnownSession: a login that carries a valid token of
// the locked account gets through (and resets the count); a token of
// another account does not help.
func TestLockoutSparesAKnownSession(t *testing.T) {
	s := newAbuseServer(t, usertest.NewMemory(), abuseSetup{lockout: &ratelimit.LockoutPolicy{
		Threshold: 2, Window: time.Minute, Cooldown: time.Hour,
	}})
	a, tok := s.signedUp()
	_, otherTok := s.signedUp()
	for range 2 {
		s.loginAs(a.Username, "wrong password")
	}
	wantProblem(t, s.loginAs(a.Username, a.Password), http.StatusTooManyRequests, "")
	form := url.Values{"username": {a.Username}, "password": {a.Password}}.Encode()
	loginWith := func(token string) response {
		return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded", token: token})
	}
	wantProblem(t, loginWith(otherTok), http.StatusTooManyRequests, "")
	wantProblem(t, loginWith("not-a-token"), http.StatusTooManyRequests, "")
	if res := loginWith(tok); res.Status != http.StatusOK {
		t.Errorf("login with the account's own session: got %v, want 200", res)
	}
}
