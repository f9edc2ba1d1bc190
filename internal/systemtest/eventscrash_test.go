package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/usersvc/usersvc/internal/mail/mailtest"
)

// afterCrashWait bounds how long the restarted service may take to
// deliver what the killed one left: a job running at the kill is rescued
// once it has been running for its timeout and a minute (2·SMTP timeout
// + 30 s + 1 min with the 2 s SMTP timeout below, then River's rescuer
// interval), and a webhook delivery created but not attempted is retried
// once its claim (2 min) lapses.
const afterCrashWait = 5 * time.Minute

// TestKillDuringDeliveriesLosesNothing registers accounts while a webhook
// receiver and an SMTP server both take the first few messages and then
// hold every further one unanswered, kills usersvc with SIGKILL while
// deliveries and mail are in flight (held), restarts it on the same
// database with both open again, and checks that every acknowledged
// registration's user.created event (signatures verified by the
// reference Standard Webhooks library, ids deduplicated as a receiver
// must) and its verification mail arrive: at least once, nothing lost.
func TestKillDuringDeliveriesLosesNothing(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			const accounts, passFirst = 24, 4
			rcv := newHoldingReceiver(passFirst)
			hook := httptest.NewServer(rcv)
			t.Cleanup(hook.Close)
			smtp := mailtest.Start(t, mailtest.Options{})
			relay := newHoldingRelay(t, smtp.Addr, passFirst)
			environ := append([]string{"USERSVC_DATA_DIR=" + t.TempDir()}, db.environ(t)...)
			environ = append(environ, loadEnv...)
			environ = append(environ, smtp.Settings()...)
			environ = append(environ, "USERSVC_SMTP_PORT="+relay.port, "USERSVC_SMTP_TIMEOUT=2s",
				"USERSVC_WEBHOOK_ALLOW_PRIVATE=on", "USERSVC_JOBS_POLL_INTERVAL=100ms")

			p := start(t, environ...)
			out, err := command(t, environ, "webhooks", "create", "--url", hook.URL+"/hook", "--types", "*")
			if err != nil {
				t.Fatalf("webhooks create: %v\n%s", err, out)
			}
			secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(out)
			verifier, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatalf("the secret the CLI printed (%q): %v", out, err)
			}
			rcv.verifier = verifier

			users := registerAll(t, p.base+"/api/v1", accounts)
			waitFor(t, 60*time.Second, "a webhook delivery and a mail held in flight", func() bool {
				return rcv.holding() > 0 && relay.holding() > 0
			})
			heldEvents, heldMails := rcv.holding(), relay.holding()
			p.kill() // SIGKILL with requests to the receiver and the SMTP server unanswered
			events, mails := rcv.distinct(), len(smtp.All())
			t.Logf("killed usersvc with %d of %d events and %d of %d mails delivered, at least %d deliveries and %d mails in flight",
				events, accounts, mails, accounts, heldEvents, heldMails)
			if events >= accounts || mails >= accounts {
				t.Fatalf("everything arrived before the kill (%d events, %d mails): the kill proves nothing", events, mails)
			}
			rcv.open()
			relay.open()

			start(t, environ...)
			if !poll(afterCrashWait, func() bool { return len(rcv.missing(users)) == 0 && len(missingMail(smtp, users)) == 0 }) {
				t.Fatalf("after %v: user.created never arrived for %v; no mail for %v", afterCrashWait, rcv.missing(users), missingMail(smtp, users))
			}
			if bad := rcv.badSignatures(); bad > 0 {
				t.Errorf("%d deliveries failed the reference verifier", bad)
			}
			t.Logf("after the restart: %d distinct events in %d deliveries, %d mails for %d accounts",
				rcv.distinct(), rcv.total(), len(smtp.All()), accounts)
		})
	}
}

// registerAll registers n accounts and returns their ids by email: each
// acknowledged registration owes a user.created event and a verification
// mail.
func registerAll(t *testing.T, api string, n int) map[string]string {
	t.Helper()
	users := map[string]string{}
	client := &http.Client{Timeout: callTimeout}
	for i := range n {
		email := fmt.Sprintf("killed%d@example.com", i)
		body := fmt.Sprintf(`{"email":%q,"username":"killed%d","password":%q}`, email, i, loadPassword)
		a := send(client, "POST", api+"/register", "", "application/json", body)
		var u struct{ ID string }
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &u) != nil || u.ID == "" {
			t.Fatalf("register %s: %d %s %v", email, a.status, a.body, a.err)
		}
		users[email] = u.ID
	}
	return users
}

// missingMail lists the emails of users no message was sent to.
func missingMail(smtp *mailtest.Server, users map[string]string) []string {
	got := map[string]bool{}
	for _, m := range smtp.All() {
		for _, to := range m.To {
			got[strings.ToLower(to)] = true
		}
	}
	var out []string
	for email := range users {
		if !got[email] {
			out = append(out, email)
		}
	}
	return out
}

// holdingReceiver is a webhook receiver that answers the first pass
// deliveries, then holds every further one unanswered until open (or until
// its sender goes away), as a receiver in the middle of its work when the
// sender dies.
type holdingReceiver struct {
	verifier *standardwebhooks.Webhook

	mu      sync.Mutex
	pass    int
	opened  bool
	held    int
	byID    map[string]string // webhook-id → "type subject"
	count   int               // deliveries answered 2xx, repeats included
	badSigs int
}

func newHoldingReceiver(pass int) *holdingReceiver {
	return &holdingReceiver{pass: pass, byID: map[string]string{}}
}

func (h *holdingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	h.mu.Lock()
	if !h.opened && h.count >= h.pass {
		h.held++
		h.mu.Unlock()
		<-r.Context().Done() // the sender timed out or died
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
		return
	}
	defer h.mu.Unlock()
	if h.verifier.Verify(body, r.Header) != nil {
		h.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct{ ID, Type, Subject string }
	if json.Unmarshal(body, &ev) != nil || ev.ID != r.Header.Get("webhook-id") {
		h.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.byID[ev.ID] = ev.Type + " " + ev.Subject // a repeat (at least once) overwrites itself
	h.count++
	w.WriteHeader(http.StatusNoContent)
}

func (h *holdingReceiver) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened = true
}

func (h *holdingReceiver) holding() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

func (h *holdingReceiver) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byID)
}

func (h *holdingReceiver) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

func (h *holdingReceiver) badSignatures() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.badSigs
}

// missing lists the emails of users whose user.created event has not
// arrived.
func (h *holdingReceiver) missing(users map[string]string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	created := map[string]bool{}
	for _, ts := range h.byID {
		if subject, ok := strings.CutPrefix(ts, "user.created "); ok {
			created[subject] = true
		}
	}
	var out []string
	for email, id := range users {
		if !created[id] {
			out = append(out, email)
		}
	}
	return out
}

// holdingRelay stands between usersvc and the SMTP server: it relays the
// first pass connections, then holds every further one (never answering
// the greeting) until open, as a mail server in the middle of a slow
// conversation when the sender dies.
type holdingRelay struct {
	port string

	mu     sync.Mutex
	pass   int
	opened bool
	held   int
}

func newHoldingRelay(t *testing.T, upstream string, pass int) *holdingRelay {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &holdingRelay{pass: pass}
	_, r.port, _ = net.SplitHostPort(ln.Addr().String())
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(t.Context(), c, upstream) })
		}
	})
	return r
}

func (r *holdingRelay) serve(ctx context.Context, c net.Conn, upstream string) {
	defer c.Close()
	r.mu.Lock()
	if !r.opened && r.pass <= 0 {
		r.held++
		r.mu.Unlock()
		_, _ = io.Copy(io.Discard, c) // until the client gives up or dies
		r.mu.Lock()
		r.held--
		r.mu.Unlock()
		return
	}
	r.pass--
	r.mu.Unlock()
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

func (r *holdingRelay) open() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opened = true
}

func (r *holdingRelay) holding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}
