package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// blockingGate is a user.HashGate that lets hashing through until block,
// then holds every Acquire (saying so on waiting) until unblock: a login
// flood that keeps hashing busy, with no time passing.
type blockingGate struct {
	blocked  atomic.Bool
	calls    atomic.Int64
	waiting  chan struct{}
	released chan struct{}
	once     sync.Once
}

func newBlockingGate() *blockingGate {
	return &blockingGate{waiting: make(chan struct{}, 16), released: make(chan struct{})}
}

func (g *blockingGate) Acquire(ctx context.Context) (func(), error) {
	g.calls.Add(1)
	if !g.blocked.Load() {
		return func() {}, nil
	}
	g.waiting <- struct{}{}
	select {
	case <-g.released:
		return func() {}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", user.ErrBusy, ctx.Err())
	}
}

func (g *blockingGate) Saturated() bool { return false }
func (g *blockingGate) block()          { g.blocked.Store(true) }
func (g *blockingGate) unblock()        { g.once.Do(func() { close(g.released) }) }

// TestLoginFloodIsShedBeforeParsing: with hashing blocked and the waiting
// room of /token full (1 hashing slot + a queue of 1 = 2 places), the next
// login is refused at once with 503, Retry-After and the busy code, before
// its form is parsed (a body the parse would refuse with 415 gets the same
// answer) or a hashing slot is asked for. Reads and refresh grants, which
// hash nothing, are still served, and a password grant dressed as a
// refresh one gets no further than the parse. Once hashing frees up, the
// waiting logins succeed and the room takes new ones.
func TestLoginFloodIsShedBeforeParsing(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		gate := newBlockingGate()
		t.Cleanup(gate.unblock)
		s := newServer(t, kind, apptest.Env("USERSVC_HASH_CONCURRENCY", "1", "USERSVC_HASH_QUEUE", "1"),
			apptest.With(app.WithHashGate(gate)))
		a, _ := s.signUp()
		tokens := s.login(a, nil)
		gate.block()
		done := make(chan response, 2)
		for range 2 {
			go func() { done <- s.loginAs(a.Username, a.Password) }()
		}
		<-gate.waiting // both places taken, by logins waiting for hashing
		<-gate.waiting
		asked := gate.calls.Load()

		for _, tt := range []struct{ name, contentType, body string }{
			{"a correct login", formType, "username=" + a.Username + "&password=" + strings.ReplaceAll(a.Password, " ", "+")},
			{"a body the parse would refuse with 415", "text/plain", "not a form at all"},
		} {
			res := s.do(req{method: "POST", path: "/api/v1/token", body: tt.body, contentType: tt.contentType})
			got := wantProblem(t, res, http.StatusServiceUnavailable, user.ErrBusy.Error())
			if got["code"] != "busy" || res.Header.Get("Retry-After") != "1" {
				t.Errorf("%s: code %v, Retry-After %q; want busy, 1", tt.name, got["code"], res.Header.Get("Retry-After"))
			}
		}
		disguised := "grant_type=refresh_token&username=" + a.Username + "&password=x"
		res := s.do(req{method: "POST", path: "/api/v1/token", body: disguised, contentType: formType})
		wantProblem(t, res, http.StatusUnprocessableEntity, "")
		if n := gate.calls.Load(); n != asked {
			t.Errorf("refused logins asked for %d hashing slots, want none", n-asked)
		}

		if st := s.me(tokens.access); st != http.StatusOK {
			t.Errorf("GET /users/me with the login room full: %d, want 200", st)
		}
		if res := s.refresh(tokens.refresh); res.Status != http.StatusOK {
			t.Errorf("refresh grant with the login room full: got %v, want 200", res)
		}
		m := s.metrics()
		for _, want := range []string{ // the two refusals, counted as logins and under their route
			`usersvc_logins_total{outcome="busy"} 2`,
			`usersvc_http_requests_total{method="POST",route="POST /api/v1/token",status="5xx"} 2`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}

		gate.unblock()
		for range 2 {
			if res := <-done; res.Status != http.StatusOK {
				t.Errorf("a login that waited in the room: got %v, want 200", res)
			}
		}
		if res := s.loginAs(a.Username, a.Password); res.Status != http.StatusOK {
			t.Errorf("a login once the room emptied: got %v, want 200", res)
		}
	})
}
