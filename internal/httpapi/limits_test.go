package httpapi_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// from says where a request comes from: the socket's address (peer) and
// the X-Forwarded-For headers it carries.
func from(peer string, xff ...string) http.Header {
	h := http.Header{peerHeader: {peer}}
	for _, v := range xff {
		h.Add("X-Forwarded-For", v)
	}
	return h
}

func (s *server) loginFrom(h http.Header, login, password string) response {
	s.t.Helper()
	form := url.Values{"username": {login}, "password": {password}}.Encode()
	return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType, header: h})
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
	// The three say the same wait: RateLimit's t=, X-RateLimit-Reset (a
	// Unix time, within a second of now plus the wait) and Retry-After.
	if !strings.Contains(res.Header.Get("RateLimit"), ";t="+strconv.Itoa(ra)) {
		t.Errorf("RateLimit %q disagrees with Retry-After %d", res.Header.Get("RateLimit"), ra)
	}
	if reset, err := strconv.ParseInt(res.Header.Get("X-RateLimit-Reset"), 10, 64); err != nil || reset-time.Now().Unix() < int64(ra)-2 || reset-time.Now().Unix() > int64(ra)+1 {
		t.Errorf("X-RateLimit-Reset %q disagrees with Retry-After %d", res.Header.Get("X-RateLimit-Reset"), ra)
	}
}

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m", "USERSVC_RATE_LIMIT_REGISTER", "2/1h",
		"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "off"))
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
	if !strings.Contains(s.metrics(), `usersvc_rate_limited_total{limit="register"} 1`) {
		t.Error("/metrics does not count the refused registration")
	}
}

// accountLimited is a server whose only rate limit is 3 logins a minute
// per account.
func accountLimited(t *testing.T) *server {
	t.Helper()
	return newServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "off", "USERSVC_RATE_LIMIT_REGISTER", "off",
		"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "3/1m"))
}

// TestRateLimitPerAccountFromAnyIP: the per-account limit counts the
// attempts on one account from every address, whatever spelling of the
// account they use (its username in any case, or its email).
func TestRateLimitPerAccountFromAnyIP(t *testing.T) {
	t.Parallel()
	s := accountLimited(t)
	a := newAccount()
	s.register(a)
	for i := range 3 {
		ip := "203.0.113." + strconv.Itoa(i+1) + ":4000"
		// Distinct guesses: an identical one is a client's retry, counted once.
		if res := s.loginFrom(from(ip), a.Username, "wrong password "+strconv.Itoa(i)); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %v, want 401", i+1, res)
		}
	}
	// The same account by other spellings, from yet another address, with
	// the right password.
	for _, login := range []string{strings.ToUpper(a.Username), a.Email, strings.ToUpper(a.Email)} {
		want429(t, s.loginFrom(from("198.51.100.1:4000"), login, a.Password), "too many requests")
	}
	if res := s.loginFrom(from("198.51.100.1:4000"), newAccount().Username, "x"); res.Status != http.StatusUnauthorized {
		t.Errorf("another account: got %v, want 401", res)
	}
	metrics := s.metrics()
	for _, want := range []string{`usersvc_rate_limited_total{limit="login-account"} 3`, `usersvc_logins_total{outcome="rate_limited"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestLoginLimitSharedByUsernameAndEmail: the per-account limit is keyed
// by the account, so alternating its username and its email gets no more
// attempts than either alone; another account keeps its own count.
func TestLoginLimitSharedByUsernameAndEmail(t *testing.T) {
	t.Parallel()
	s := accountLimited(t)
	a, b := newAccount(), newAccount()
	s.register(a)
	s.register(b)
	for i, login := range []string{a.Username, a.Email, a.Username} {
		if res := s.loginFrom(from("203.0.113.9:4000"), login, "wrong password "+strconv.Itoa(i)); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d (%s): got %v, want 401", i+1, login, res)
		}
	}
	want429(t, s.loginFrom(from("203.0.113.9:4000"), a.Email, a.Password), "too many requests")
	want429(t, s.loginFrom(from("203.0.113.9:4000"), a.Username, a.Password), "too many requests")
	if res := s.loginFrom(from("203.0.113.9:4000"), b.Email, b.Password); res.Status != http.StatusOK {
		t.Errorf("another account from the same address: got %v, want 200", res)
	}
	// Unknown accounts are counted by the login typed, as before.
	for i := range 3 {
		s.loginFrom(from("203.0.113.9:4000"), "ghost", "x"+strconv.Itoa(i))
	}
	want429(t, s.loginFrom(from("203.0.113.9:4000"), "GHOST", "x"), "too many requests")
}

func TestSpoofedForwardedForIsIgnored(t *testing.T) {
	t.Parallel()
	proxied := limitsOn("USERSVC_RATE_LIMIT_LOGIN", "1/1m", "USERSVC_TRUSTED_PROXIES", "10.0.0.0/8")
	t.Run("untrusted peer", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, apptest.Memory, proxied)
		s.loginFrom(from("203.0.113.7:4000", "1.1.1.1"), "nobody", "x")
		// A new forged address each time does not make a new client.
		want429(t, s.loginFrom(from("203.0.113.7:4000", "2.2.2.2"), "nobody", "x"), "too many requests")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, apptest.Memory, proxied)
		s.loginFrom(from("10.0.0.5:4000", "1.1.1.1"), "nobody", "x")
		if res := s.loginFrom(from("10.0.0.5:4000", "2.2.2.2"), "nobody", "x"); res.Status != http.StatusUnauthorized {
			t.Errorf("another client behind the load balancer: got %v, want 401", res)
		}
		// The client forges a hop left of the one the proxy appended.
		want429(t, s.loginFrom(from("10.0.0.5:4000", "9.9.9.9, 1.1.1.1"), "nobody", "x"), "too many requests")
	})
}

// TestLockoutAndReset runs the cool-down on the server's clock.
func TestLockoutAndReset(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		const cooldown = 2 * time.Minute
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_WINDOW", "2m",
			"USERSVC_LOGIN_LOCKOUT_COOLDOWN", cooldown.String(), "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "off"))
		a := newAccount()
		s.register(a)
		for i := range 3 {
			ip := "203.0.113." + strconv.Itoa(i+1) + ":4000"
			wantProblem(t, s.loginFrom(from(ip), a.Username, "wrong password "+strconv.Itoa(i)), http.StatusUnauthorized, "incorrect username or password")
		}
		// Locked, whatever the address, whatever the spelling, even with
		// the right password.
		res := s.loginFrom(from("198.51.100.1:4000"), a.Email, a.Password)
		body := wantProblem(t, res, http.StatusTooManyRequests, "")
		if d := body["detail"].(string); d != "too many failed logins for this account: try again in 120 seconds" {
			t.Errorf("detail = %q", d)
		}
		if body["code"] != "account_locked" {
			t.Errorf("code = %v, want account_locked", body["code"])
		}
		if got := res.Header.Get("Retry-After"); got != "120" {
			t.Errorf("Retry-After = %q, want 120 (the cool-down)", got)
		}
		// An unknown account locks just the same, so locking tells nothing.
		for i := range 3 {
			s.loginFrom(from("198.51.100.1:4000"), "ghost", "wrong password "+strconv.Itoa(i))
		}
		wantProblem(t, s.loginFrom(from("198.51.100.1:4000"), "ghost", "x"), http.StatusTooManyRequests, "")

		s.Clock.Advance(cooldown - time.Second)
		wantProblem(t, s.loginAs(a.Username, a.Password), http.StatusTooManyRequests, "")
		s.Clock.Advance(time.Second) // the cool-down is over
		s.token(a.Username, a.Password)
		// The success reset the count: two more failures do not lock.
		for i := range 2 {
			s.loginFrom(from("203.0.113.1:4000"), a.Username, "wrong password "+strconv.Itoa(i))
		}
		s.token(a.Username, a.Password)
		metrics := s.metrics()
		for _, want := range []string{`usersvc_logins_total{outcome="success"} 2`, `usersvc_logins_total{outcome="failure"} 8`,
			`usersvc_logins_total{outcome="locked"} 3`, `usersvc_login_lockouts_total 2`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestPasswordPolicyOverHTTP(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, apptest.Env("USERSVC_PASSWORD_MIN_LENGTH", "12"))
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

// saturable is a server with one hashing slot, which the test can take
// through its HashGate: a login then waits 1 ms for it and is turned away.
func saturable(t *testing.T, opts ...apptest.Option) *server {
	t.Helper()
	return newServer(t, apptest.Memory, append([]apptest.Option{apptest.Env("USERSVC_HASH_CONCURRENCY", "1",
		"USERSVC_HASH_QUEUE", "1", "USERSVC_HASH_MAX_WAIT", "1ms")}, opts...)...)
}

// TestSaturatedHashingSheds: with every hashing slot taken, logins get 503
// with Retry-After at once, while GET /users/me, which hashes nothing, is
// served as usual.
func TestSaturatedHashingSheds(t *testing.T) {
	t.Parallel()
	s := saturable(t)
	a, tok := s.signedUp()
	release, err := s.App.HashGate().Acquire(t.Context()) // a login flood holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	res := s.loginAs(a.Username, a.Password)
	body := wantProblem(t, res, http.StatusServiceUnavailable, user.ErrBusy.Error())
	if res.Header.Get("Retry-After") != "1" || body["code"] != "busy" {
		t.Errorf("Retry-After = %q, code %v; want 1, busy", res.Header.Get("Retry-After"), body["code"])
	}
	start := time.Now()
	if res := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}); res.Status != http.StatusOK {
		t.Errorf("GET /users/me while hashing is saturated: got %v, want 200", res)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("GET /users/me took %s while hashing is saturated", d)
	}
	metrics := s.metrics()
	for _, want := range []string{`usersvc_logins_total{outcome="busy"} 1`, `usersvc_password_hash_slots{state="in_use"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// hashCount matches the number of hashes and verifications in /metrics.
var hashCount = regexp.MustCompile(`(?m)^usersvc_password_hash_duration_seconds_count (\d+)$`)

// hashes is how many passwords the server has hashed or verified so far.
func (s *server) hashes() int {
	s.t.Helper()
	m := hashCount.FindStringSubmatch(s.metrics())
	if m == nil {
		s.t.Fatal("/metrics has no usersvc_password_hash_duration_seconds_count")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestConstantTimeLoginUnderProtections: with the gate, the lockout and
// argon2id, unknown user, wrong password and inactive account each cost one
// verification and give the same 401.
func TestConstantTimeLoginUnderProtections(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, limitsOn("USERSVC_PASSWORD_HASH", "argon2id", "USERSVC_ARGON2_MEMORY_KIB", "8192",
		"USERSVC_ARGON2_ITERATIONS", "1", "USERSVC_HASH_CONCURRENCY", "2", "USERSVC_HASH_QUEUE", "4"))
	a, _ := s.signUp()
	off, offID := s.signUp()
	s.Memory.SetActive(offID, false)
	// The first login of an unknown account also makes the dummy hash it
	// verifies against, once for the life of the process.
	s.loginAs("warm-up", "whatever pw")
	var bodies []string
	for _, c := range [][2]string{{"ghost", "whatever pw"}, {a.Username, "wrong password"}, {off.Username, off.Password}} {
		before := s.hashes()
		res := s.loginAs(c[0], c[1])
		wantProblem(t, res, http.StatusUnauthorized, "incorrect username or password")
		bodies = append(bodies, string(res.Body))
		if got := s.hashes() - before; got != 1 {
			t.Errorf("login %q: %d verifications, want 1", c[0], got)
		}
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("bodies differ: %q", bodies)
	}
}

// TestLoginsBehindOneAddressThatProveTheirPasswordAreNotCounted: the
// people of an office (one NAT address) or of a mobile carrier (one
// carrier-grade NAT address for thousands) sign in from one address. The
// per-address login limit counted every login, so the limit's worth of
// people signing in within its window shut out the rest (429), with no
// attacker about. It counts every login while it runs, and takes back
// those that prove their password (or their second step): what it is
// for, guessing, still fails and is counted, and once over, the address
// is refused whatever it sends.
func TestLoginsBehindOneAddressThatProveTheirPasswordAreNotCounted(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "3/1m", "USERSVC_RATE_LIMIT_REGISTER", "off",
		"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "off"))
	office := from("198.51.100.77:4000")
	var people []account
	for range 5 {
		a := newAccount()
		s.register(a)
		people = append(people, a)
	}
	withApp, token := s.signedUp()
	secret, _ := s.enrolTOTP(token)
	s.Clock.Advance(time.Minute)

	for i, a := range people {
		if res := s.loginFrom(office, a.Username, a.Password); res.Status != http.StatusOK {
			t.Fatalf("person %d of 5 behind the office's address: got %v, want 200", i+1, res)
		}
	}
	form := url.Values{"username": {withApp.Username}, "password": {withApp.Password}}.Encode()
	res := s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType, header: office})
	mfaToken, _ := wantOAuthError(t, res, http.StatusForbidden, "mfa_required", "")["mfa_token"].(string)
	form = url.Values{"grant_type": {"urn:usersvc:params:oauth:grant-type:mfa-otp"}, "mfa_token": {mfaToken},
		"otp": {otpCode(t, secret, s.Clock.Now())}}.Encode()
	if res := s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType, header: office}); res.Status != http.StatusOK {
		t.Fatalf("the second step behind the office's address: got %v, want 200", res)
	}

	// Guessing from there is counted: three wrong, then refused, the right
	// password too.
	for i := range 3 {
		if res := s.loginFrom(office, people[0].Username, "wrong password "+strconv.Itoa(i)); res.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: got %v, want 401", i+1, res)
		}
	}
	want429(t, s.loginFrom(office, people[1].Username, people[1].Password), "too many requests")
}
