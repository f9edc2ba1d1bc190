package systemtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the test opens the service's SQLite file itself

	"github.com/usersvc/usersvc/internal/user"
)

// maxOutageLatency bounds every answer while the database is away: the
// service must fail fast, not hang. (SQLite waits out its 5 s busy timeout
// on a locked file for up to 5 s, so its test allows a second on top.)
const maxOutageLatency = 5 * time.Second

// checkUnavailable returns what is wrong with a to be the promised answer
// of an outage: 503, JSON, Retry-After, the sentinel's words and nothing of
// the driver's, within limit.
func checkUnavailable(a answer, limit time.Duration) string {
	var body struct{ Detail string }
	switch {
	case a.err != nil:
		return fmt.Sprintf("error %v after %v", a.err, a.latency)
	case a.status != http.StatusServiceUnavailable:
		return fmt.Sprintf("status %d (%s), want 503", a.status, a.body)
	case a.latency > limit:
		return fmt.Sprintf("503 after %v, want under %v", a.latency, limit)
	case a.header.Get("Retry-After") == "":
		return "503 without Retry-After"
	case json.Unmarshal(a.body, &body) != nil || body.Detail != user.ErrUnavailable.Error():
		return fmt.Sprintf("503 body %s, want detail %q and nothing else", a.body, user.ErrUnavailable.Error())
	}
	return ""
}

// load is steady traffic: workers registering new accounts and reading
// /users/me as one existing account, recording every answer.
type load struct {
	api, token string
	client     *http.Client
	limit      time.Duration // the slowest acceptable answer

	mu         sync.Mutex
	registered []string // emails answered 201
	problems   []string
	counts     map[int]int
	acked      atomic.Int64
	stop       context.CancelFunc
	wg         sync.WaitGroup
}

// startLoad runs workers until stopLoad, each at most 100000 rounds.
func startLoad(t *testing.T, api, token string, workers int, limit time.Duration) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{api: api, token: token, client: &http.Client{Timeout: 30 * time.Second}, limit: limit,
		counts: map[int]int{}, stop: cancel}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; i < 100000 && ctx.Err() == nil; i++ {
				email := fmt.Sprintf("load%d-%d@example.com", w, i)
				body := fmt.Sprintf(`{"email":%q,"username":"load%d-%d","password":%q}`, email, w, i, loadPassword)
				l.note(send(l.client, "POST", l.api+"/register", "", "application/json", body), http.StatusCreated, email)
				l.note(send(l.client, "GET", l.api+"/users/me", l.token, "", ""), http.StatusOK, "")
			}
		})
	}
	t.Cleanup(func() {
		l.stopLoad()
		if t.Failed() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("load: answers by status %v; %d problems: %.2000s", l.counts, len(l.problems), strings.Join(l.problems, "; "))
		}
	})
	return l
}

// note records a: the expected status, or a well-formed 503.
func (l *load) note(a answer, want int, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[a.status]++
	if a.err == nil && a.status == want {
		if email != "" {
			l.registered = append(l.registered, email)
			l.acked.Add(1)
		}
		if a.latency > l.limit {
			l.problems = append(l.problems, fmt.Sprintf("%d after %v", a.status, a.latency))
		}
		return
	}
	if msg := checkUnavailable(a, l.limit); msg != "" {
		l.problems = append(l.problems, msg)
	}
}

func (l *load) stopLoad() {
	l.stop()
	l.wg.Wait()
}

// check fails the test unless, once the load is stopped, every answer was
// the one asked for (200 or 201) or a well-formed 503, each within the
// limit, and each status of mustSee was seen at least once.
func (l *load) check(t *testing.T, mustSee ...int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("answers under load by status: %v", l.counts)
	if len(l.problems) > 0 {
		t.Errorf("%d bad answers under load, first: %s", len(l.problems), strings.Join(l.problems[:min(5, len(l.problems))], "; "))
	}
	for status, n := range l.counts {
		if status != http.StatusOK && status != http.StatusCreated && status != http.StatusServiceUnavailable {
			t.Errorf("%d answers under load had status %d, want only 200, 201 or 503 (0: no answer)", n, status)
		}
	}
	for _, status := range mustSee {
		if l.counts[status] == 0 {
			t.Errorf("no answer under load had status %d: that part of the test was not exercised", status)
		}
	}
	if l.counts[http.StatusCreated] != len(l.registered) {
		t.Errorf("%d answers 201 but %d registrations recorded", l.counts[http.StatusCreated], len(l.registered))
	}
}

// TestPostgresOutage stops the service's own PostgreSQL cluster under
// steady load and starts it again. While it is down /healthz stays 200,
// /readyz and every API call answer 503 JSON fast; once it is back the
// same process serves again, and every 201 registration is in the
// database.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	srv := start(t, append([]string{"DATABASE_URL=" + pg.URL}, loadEnv...)...)
	api := srv.base + "/api/v1"
	token := signUp(t, api, "reader")
	probe := &http.Client{Timeout: 30 * time.Second}

	l := startLoad(t, api, token, 4, maxOutageLatency)
	waitFor(t, 30*time.Second, "registrations before the outage", func() bool { return l.acked.Load() >= 20 })

	pg.Stop(t)
	waitFor(t, 10*time.Second, "/readyz to answer 503", func() bool {
		return statusOf(probe, srv.base+"/readyz") == http.StatusServiceUnavailable
	})
	downUntil := time.Now().Add(3 * time.Second)
	for n := 0; time.Now().Before(downUntil) || n < 3; n++ {
		if got := statusOf(probe, srv.base+"/healthz"); got != http.StatusOK {
			t.Errorf("/healthz while the database is down: %d, want 200", got)
		}
		for _, a := range []answer{
			send(probe, "POST", api+"/register", "", "application/json", `{"email":"down@example.com","username":"down","password":"Load-Pa55word-correct-horse"}`),
			send(probe, "GET", api+"/users/me", token, "", ""),
			send(probe, "POST", api+"/token", "", "application/x-www-form-urlencoded", url.Values{"username": {"reader"}, "password": {loadPassword}}.Encode()),
		} {
			if msg := checkUnavailable(a, maxOutageLatency); msg != "" {
				t.Errorf("while the database is down: %s", msg)
			}
		}
	}
	pg.Start(t)
	waitFor(t, 30*time.Second, "/readyz to answer 200 again", func() bool {
		return statusOf(probe, srv.base+"/readyz") == http.StatusOK
	})
	after := l.acked.Load()
	waitFor(t, 30*time.Second, "registrations after the outage", func() bool { return l.acked.Load() >= after+20 })
	l.stopLoad()
	// Registrations and reads before and after, and 503s while it was down.
	l.check(t, http.StatusCreated, http.StatusOK, http.StatusServiceUnavailable)
	conn, err := pgx.Connect(t.Context(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stored int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE email = ANY($1)`, l.registered).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(l.registered) {
		t.Errorf("%d of %d registrations answered 201 are in the database", stored, len(l.registered))
	}
}

// TestSQLiteLocked holds an exclusive lock on the service's SQLite file
// from another connection, past the busy timeout: writes answer 503 JSON
// once the busy timeout has passed, reads go on, /healthz stays 200; once
// the lock is released the same process writes again and every 201 is in
// the file.
func TestSQLiteLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := start(t, append([]string{"USERSVC_DATA_DIR=" + dir}, loadEnv...)...)
	api := srv.base + "/api/v1"
	token := signUp(t, api, "reader")
	limit := maxOutageLatency + time.Second // sqlite's writeWait, then the answer

	l := startLoad(t, api, token, 2, limit)
	waitFor(t, 30*time.Second, "registrations before the lock", func() bool { return l.acked.Load() >= 10 })

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "usersvc.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("lock the database: %v", err)
	}
	probe := &http.Client{Timeout: 30 * time.Second}
	a := send(probe, "POST", api+"/register", "", "application/json", `{"email":"locked@example.com","username":"locked","password":"Load-Pa55word-correct-horse"}`)
	if msg := checkUnavailable(a, limit); msg != "" {
		t.Errorf("register while locked: %s", msg)
	}
	if a := send(probe, "GET", api+"/users/me", token, "", ""); a.status != http.StatusOK {
		t.Errorf("users/me while locked: %d %s, want 200 (readers go on in WAL mode)", a.status, a.body)
	}
	if got := statusOf(probe, srv.base+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while locked: %d, want 200", got)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	after := l.acked.Load()
	waitFor(t, 30*time.Second, "registrations after the lock", func() bool { return l.acked.Load() >= after+10 })
	l.stopLoad()
	// The load's registrations during the lock may wait out the lock and
	// succeed, or answer 503: which depends on when the lock ends. The
	// probe above is the one that must see the 503.
	l.check(t, http.StatusCreated, http.StatusOK)
	var stored int
	emails, _ := json.Marshal(l.registered)
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM users WHERE email IN (SELECT value FROM json_each(?))`, string(emails)).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(l.registered) {
		t.Errorf("%d of %d registrations answered 201 are in the database", stored, len(l.registered))
	}
}

// TestPostgresHangs freezes the service's own PostgreSQL cluster with
// SIGSTOP, so that connections stay open and nothing answers, the failure
// a refused connection does not show: requests must still answer 503
// within the bound, /healthz 200, and the service must recover on SIGCONT.
func TestPostgresHangs(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	srv := start(t, append([]string{"DATABASE_URL=" + pg.URL}, loadEnv...)...)
	api := srv.base + "/api/v1"
	token := signUp(t, api, "reader")
	probe := &http.Client{Timeout: 30 * time.Second}

	pg.Signal(t, syscall.SIGSTOP)
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			pg.Signal(t, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	limit := maxOutageLatency + time.Second
	var wg sync.WaitGroup
	answers := make([]answer, 4)
	wg.Go(func() { answers[0] = send(probe, "GET", api+"/users/me", token, "", "") })
	wg.Go(func() {
		answers[1] = send(probe, "POST", api+"/register", "", "application/json",
			fmt.Sprintf(`{"email":"hang@example.com","username":"hang","password":%q}`, loadPassword))
	})
	wg.Go(func() {
		answers[2] = send(probe, "POST", api+"/token", "", "application/x-www-form-urlencoded",
			url.Values{"username": {"reader"}, "password": {loadPassword}}.Encode())
	})
	wg.Go(func() { answers[3] = send(probe, "GET", srv.base+"/readyz", "", "", "") })
	if got := statusOf(probe, srv.base+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while the database hangs: %d, want 200", got)
	}
	wg.Wait()
	for i, a := range answers[:3] {
		if msg := checkUnavailable(a, limit); msg != "" {
			t.Errorf("request %d while the database hangs: %s", i, msg)
		}
	}
	if a := answers[3]; a.status != http.StatusServiceUnavailable || a.latency > limit {
		t.Errorf("/readyz while the database hangs: %d after %v, want 503 within %v", a.status, a.latency, limit)
	}
	resume()
	waitFor(t, 30*time.Second, "/users/me to answer 200 again", func() bool {
		return send(probe, "GET", api+"/users/me", token, "", "").status == http.StatusOK
	})
}
