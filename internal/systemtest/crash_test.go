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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// crashAccount is what the clients of the crash test were told about one
// account: its password as last acknowledged, and the one a change in
// flight at the crash would have set.
type crashAccount struct {
	email, acked, pending string
}

// TestCrashConsistency kills usersvc with SIGKILL while clients register
// and change passwords, restarts it on the same database, and checks that
// every acknowledged write survived and nothing is half written: each
// acknowledged account logs in with exactly its last acknowledged password
// (or the one of a change unanswered at the crash), its token version
// says how many changes committed, every stored hash is a whole bcrypt
// hash, and SQLite's integrity check passes.
func TestCrashConsistency(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			environ := append([]string{"USERSVC_DATA_DIR=" + dir}, append(db.environ(t), loadEnv...)...)
			accounts := crashLoad(t, start(t, environ...), 6, 60)
			p := start(t, environ...)
			checkAfterCrash(t, p.base+"/api/v1", accounts)
			checkStore(t, db.name, dir, environ, accounts)
		})
	}
}

// crashLoad runs workers that register and then change the password of
// account after account, kills the process once at least acks writes were
// acknowledged, and returns what the clients were told.
func crashLoad(t *testing.T, p *process, workers, acks int) []*crashAccount {
	t.Helper()
	api := p.base + "/api/v1"
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu       sync.Mutex
		accounts []*crashAccount
		acked    int
		wg       sync.WaitGroup
	)
	ack := func(a *crashAccount, password string) {
		mu.Lock()
		defer mu.Unlock()
		if a.acked == "" {
			accounts = append(accounts, a)
		}
		a.acked, a.pending = password, ""
		acked++
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < 10000 && ctx.Err() == nil; i++ {
				a := &crashAccount{email: fmt.Sprintf("crash%d-%d@example.com", w, i)}
				first, second := loadPassword, loadPassword+"-changed"
				body := fmt.Sprintf(`{"email":%q,"username":"crash%d-%d","password":%q}`, a.email, w, i, first)
				if send(client, "POST", api+"/register", "", "application/json", body).status != http.StatusCreated {
					return // the process is gone
				}
				ack(a, first)
				form := url.Values{"username": {a.email}, "password": {first}}.Encode()
				res := send(client, "POST", api+"/token", "", "application/x-www-form-urlencoded", form)
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				if res.status != http.StatusOK || json.Unmarshal(res.body, &tok) != nil {
					return
				}
				mu.Lock()
				a.pending = second
				mu.Unlock()
				body = fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, first, second)
				if send(client, "PUT", api+"/users/me/password", tok.AccessToken, "application/json", body).status != http.StatusNoContent {
					return
				}
				ack(a, second)
			}
		})
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d acknowledged writes", acks), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return acked >= acks
	})
	p.kill() // SIGKILL: no shutdown, no flush
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed usersvc after %d acknowledged writes on %d accounts", acked, len(accounts))
	// Each account has at most two acknowledged writes: fewer accounts
	// than that would mean acknowledgements were miscounted, and the checks
	// after the restart would prove less than they claim.
	if acked < acks || len(accounts) < (acked+1)/2 {
		t.Fatalf("%d acknowledged writes on %d accounts, want at least %d writes on at least half as many accounts", acked, len(accounts), acks)
	}
	return accounts
}

// checkAfterCrash logs in as every acknowledged account.
func checkAfterCrash(t *testing.T, api string, accounts []*crashAccount) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	login := func(email, password string) bool {
		form := url.Values{"username": {email}, "password": {password}}.Encode()
		return send(client, "POST", api+"/token", "", "application/x-www-form-urlencoded", form).status == http.StatusOK
	}
	for _, a := range accounts {
		if login(a.email, a.acked) {
			continue
		}
		if a.pending != "" && login(a.email, a.pending) {
			continue // the change was committed but its answer lost in the crash
		}
		t.Errorf("%s: the acknowledged password no longer logs in: an acknowledged write was lost", a.email)
	}
}

// checkStore reads the rows the clients were told about straight from the
// database: a whole bcrypt hash of the password that logs in, and a token
// version of 1 exactly when the change committed.
func checkStore(t *testing.T, kind, dir string, environ []string, accounts []*crashAccount) {
	t.Helper()
	type row struct {
		hash    string
		version int64
	}
	rows := map[string]row{}
	collect := func(email, hash string, version int64) { rows[email] = row{hash, version} }
	const q = `SELECT email, hashed_password, token_version FROM users WHERE email LIKE 'crash%'`
	switch kind {
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "usersvc.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var check string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("PRAGMA integrity_check = %q, %v; want ok", check, err)
		}
		rs, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			var (
				email, hash string
				version     int64
			)
			if err := rs.Scan(&email, &hash, &version); err != nil {
				t.Fatal(err)
			}
			collect(email, hash, version)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
	case "postgres":
		var dbURL string
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
				dbURL = v
			}
		}
		conn, err := pgx.Connect(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rs, err := conn.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var (
				email, hash string
				version     int64
			)
			if err := rs.Scan(&email, &hash, &version); err != nil {
				t.Fatal(err)
			}
			collect(email, hash, version)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range accounts {
		r, ok := rows[a.email]
		if !ok {
			t.Errorf("%s: acknowledged but not in the database", a.email)
			continue
		}
		changed := bcrypt.CompareHashAndPassword([]byte(r.hash), []byte(loadPassword+"-changed")) == nil
		if !changed && bcrypt.CompareHashAndPassword([]byte(r.hash), []byte(loadPassword)) != nil {
			t.Errorf("%s: stored hash %.10q... matches neither password: half written", a.email, r.hash)
		}
		if want := map[bool]int64{false: 0, true: 1}[changed]; r.version != want {
			t.Errorf("%s: token_version %d with the password changed=%v: hash and version disagree", a.email, r.version, changed)
		}
	}
	for email, r := range rows {
		if _, err := bcrypt.Cost([]byte(r.hash)); err != nil {
			t.Errorf("%s: stored hash is not a whole bcrypt hash: %v", email, err)
		}
	}
}
