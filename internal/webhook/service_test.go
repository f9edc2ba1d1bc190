package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/webhook"
	"github.com/usersvc/usersvc/internal/webhook/webhooktest"
)

// receiver is a webhook receiver on loopback that records what it gets
// and answers with status.
type receiver struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.status.Store(http.StatusNoContent)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	svc   *webhook.Service
	mem   *webhooktest.Memory
	audit user.AuditLog
	clock *clock
}

func newFixture(t *testing.T, cfg webhook.Config) fixture {
	return newFixtureRand(t, cfg, func() float64 { return 0.5 })
}

// newFixtureRand is newFixture with the jitter's random numbers from r.
func newFixtureRand(t *testing.T, cfg webhook.Config, r func() float64) fixture {
	return newFixtureOver(t, cfg, r, nil)
}

// newFixtureOver is newFixtureRand whose service sees the stores as wrap
// changes them (a store that fails, or acts between two calls).
func newFixtureOver(t *testing.T, cfg webhook.Config, r func() float64, wrap func(*webhook.Stores)) fixture {
	f := fixture{mem: webhooktest.NewMemory(), audit: usertest.NewMemory().Stores().Audit, clock: &clock{now: time.Now().UTC()}}
	stores := f.mem.Stores()
	if wrap != nil {
		wrap(&stores)
	}
	d := testDeps(t, stores, f.clock)
	d.Audit, d.Rand = f.audit, r
	f.svc = webhook.NewService(d, cfg)
	return f
}

// testDeps are the Deps of the tests' services: stores, a key of their
// own to seal secrets with, the clock clk (nil: the real one) and a
// client that may send to loopback. Replicas share one (the key).
func testDeps(tb testing.TB, stores webhook.Stores, clk *clock) webhook.Deps {
	tb.Helper()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	sealer, err := signing.NewSealer(kek, nil)
	if err != nil {
		tb.Fatal(err)
	}
	d := webhook.Deps{Stores: stores, Sealer: sealer,
		Sender: webhook.NewClient(webhook.ClientOptions{AllowPrivate: true, Timeout: 5 * time.Second})}
	if clk != nil {
		d.Now = clk.Now
	}
	return d
}

var admin = user.User{ID: uuid.New(), Role: user.RoleAdmin, IsActive: true}

func (f fixture) create(t *testing.T, url string, types ...string) (webhook.Endpoint, webhook.Secret) {
	t.Helper()
	e, secret, err := f.svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: url, Types: types})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return e, secret
}

func event(typ string, seq int64) webhook.Event {
	return webhook.Event{
		ID: "evt_" + uuid.NewString(), Type: typ, Time: time.Now().UTC(), Subject: uuid.New(), Seq: seq,
		Data: json.RawMessage(`{"email":"ada@example.com"}`),
	}
}

func verify(t *testing.T, secret webhook.Secret, r received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(string(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
		t.Errorf("reference verifier refused a delivery: %v", err)
	}
}

func TestDeliverFansOutToSubscribedEndpoints(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	created, deleted, all, off := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
	_, sc := f.create(t, created.srv.URL, catalogue.UserCreated)
	f.create(t, deleted.srv.URL, catalogue.UserDeleted)
	_, sa := f.create(t, all.srv.URL, webhook.AllTypes)
	eoff, _ := f.create(t, off.srv.URL, webhook.AllTypes)
	disabled := false
	if _, err := f.svc.Update(t.Context(), admin, eoff.ID, webhook.EndpointPatch{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	ev := event(catalogue.UserCreated, 1)
	if err := f.svc.Deliver(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if n := len(created.received()); n != 1 {
		t.Fatalf("subscribed endpoint got %d deliveries, want 1", n)
	}
	if n := len(deleted.received()); n != 0 {
		t.Errorf("endpoint of another type got %d deliveries, want 0", n)
	}
	if n := len(off.received()); n != 0 {
		t.Errorf("disabled endpoint got %d deliveries, want 0", n)
	}
	if n := len(all.received()); n != 1 {
		t.Errorf("endpoint of * got %d deliveries, want 1", n)
	}
	got := created.received()[0]
	verify(t, sc, got)
	verify(t, sa, all.received()[0])
	if id := got.header.Get("webhook-id"); id != ev.ID {
		t.Errorf("webhook-id = %q, want the event id %q", id, ev.ID)
	}
	var body struct {
		ID, Type, Subject string
		Seq               int64
		Data              map[string]string
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != ev.ID || body.Type != ev.Type || body.Subject != ev.Subject.String() || body.Seq != 1 || body.Data["email"] != "ada@example.com" {
		t.Errorf("body = %s, want the event", got.body)
	}
	// The same event handed over again (a job retried) is not sent again.
	if err := f.svc.Deliver(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if n := len(created.received()); n != 1 {
		t.Errorf("an event delivered twice reached the receiver %d times, want 1", n)
	}
}

// A receiver that is down for a while then returns gets every event,
// each signed, after retries at growing intervals.
func TestRetriesUntilTheReceiverReturns(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	r := newReceiver(t)
	e, secret := f.create(t, r.srv.URL, webhook.AllTypes)
	r.status.Store(http.StatusServiceUnavailable)
	var events []webhook.Event
	for i := range 3 {
		ev := event(catalogue.UserUpdated, int64(i+1))
		events = append(events, ev)
		if err := f.svc.Deliver(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 10)
	var waits []time.Duration
	for range 3 { // three more failed rounds: the wait grows
		for _, d := range ds {
			if d.State != webhook.Pending {
				t.Fatalf("delivery %s is %s after a 503, want pending", d.ID, d.State)
			}
		}
		next := ds[0].NextAt
		waits = append(waits, next.Sub(f.clock.Now()))
		f.clock.Add(next.Sub(f.clock.Now()))
		if n, err := f.svc.RunDue(t.Context()); err != nil || n != 3 {
			t.Fatalf("RunDue = %d, %v, want 3 attempts", n, err)
		}
		ds, _ = f.svc.Deliveries(t.Context(), admin, e.ID, 10)
	}
	if waits[0] >= waits[1] || waits[1] >= waits[2] {
		t.Errorf("retry waits %v do not grow", waits)
	}
	if n, _ := f.svc.RunDue(t.Context()); n != 0 {
		t.Errorf("RunDue before the next retry is due made %d attempts, want 0", n)
	}
	r.status.Store(http.StatusOK)
	before := len(r.received())
	f.clock.Add(ds[0].NextAt.Sub(f.clock.Now()))
	if _, err := f.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds, _ = f.svc.Deliveries(t.Context(), admin, e.ID, 10)
	for _, d := range ds {
		if d.State != webhook.Succeeded || len(d.Attempts) != 5 {
			t.Errorf("delivery %s: %s after %d attempts, want succeeded after 5", d.EventID, d.State, len(d.Attempts))
		}
		if a := d.Attempts[0]; a.Status != 503 || a.Error == "" {
			t.Errorf("first attempt = %+v, want status 503 with an error", a)
		}
	}
	seen := map[string]bool{}
	for i, got := range r.received() {
		verify(t, secret, got)
		if i >= before {
			seen[got.header.Get("webhook-id")] = true
		}
	}
	for _, ev := range events {
		if !seen[ev.ID] {
			t.Errorf("event %s never reached the receiver", ev.ID)
		}
	}
	if got, _ := f.svc.Get(t.Context(), admin, e.ID); !got.FailingSince.IsZero() || !got.Enabled {
		t.Errorf("endpoint after a success: failing since %s, enabled %v; want not failing, enabled", got.FailingSince, got.Enabled)
	}
}

// An endpoint failing for the whole retry window is disabled, audited,
// and its deliveries given up.
func TestEndpointFailingForTheWindowIsDisabled(t *testing.T) {
	f := newFixture(t, webhook.Config{RetryFor: 3 * time.Hour, AllowPrivate: true})
	r := newReceiver(t)
	r.status.Store(http.StatusInternalServerError)
	e, _ := f.create(t, r.srv.URL, catalogue.UserDeleted)
	if err := f.svc.Deliver(t.Context(), event(catalogue.UserDeleted, 1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
		if ds[0].State != webhook.Pending {
			break
		}
		f.clock.Add(ds[0].NextAt.Sub(f.clock.Now()))
		if _, err := f.svc.RunDue(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
	if ds[0].State != webhook.Failed {
		t.Fatalf("delivery is %s after the retry window, want failed", ds[0].State)
	}
	if last := ds[0].Attempts[len(ds[0].Attempts)-1].At; last.Sub(ds[0].CreatedAt) != 3*time.Hour {
		t.Errorf("last attempt %s after the first, want at the end of the window (3h)", last.Sub(ds[0].CreatedAt))
	}
	got, _ := f.svc.Get(t.Context(), admin, e.ID)
	if got.Enabled {
		t.Error("endpoint failing for the whole window is still enabled")
	}
	events, _ := f.audit.Events(t.Context(), user.AuditFilter{Kinds: []user.AuditKind{webhook.AuditDisabled}})
	if len(events) != 1 || events[0].Detail["endpoint"] != e.ID.String() {
		t.Errorf("audit events of disabling = %+v, want one naming the endpoint", events)
	}
	// Later events do not go to it; enabling it starts afresh.
	if err := f.svc.Deliver(t.Context(), event(catalogue.UserDeleted, 2)); err != nil {
		t.Fatal(err)
	}
	if ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 10); len(ds) != 1 {
		t.Errorf("a disabled endpoint got %d deliveries, want still 1", len(ds))
	}
	on := true
	if got, err := f.svc.Update(t.Context(), admin, e.ID, webhook.EndpointPatch{Enabled: &on}); err != nil || !got.Enabled || !got.FailingSince.IsZero() {
		t.Errorf("enable = %+v, %v; want enabled and not failing", got, err)
	}
}

// betweenFailures is a store that runs act after each failure is noted,
// with the endpoint as noted: a change committed between the sender's
// reading of the endpoint and its disabling.
type betweenFailures struct {
	webhook.Endpoints
	act func(webhook.Endpoint)
}

func (b betweenFailures) SetFailing(ctx context.Context, id uuid.UUID, since time.Time) (webhook.Endpoint, error) {
	e, err := b.Endpoints.SetFailing(ctx, id, since)
	if err == nil {
		b.act(e)
	}
	return e, err
}

// An endpoint disabled for its failures keeps the secret an administrator
// rotated just before: the disabling used to write back the whole
// endpoint as read, undoing the rotation (the old, perhaps leaked, secret
// signing again once it is enabled).
func TestDisablingKeepsAConcurrentRotation(t *testing.T) {
	var rotate func(webhook.Endpoint)
	f := newFixtureOver(t, webhook.Config{RetryFor: time.Hour, AllowPrivate: true}, func() float64 { return 0.5 },
		func(s *webhook.Stores) {
			s.Endpoints = betweenFailures{s.Endpoints, func(e webhook.Endpoint) { rotate(e) }}
		})
	r := newReceiver(t)
	r.status.Store(http.StatusInternalServerError)
	e, _ := f.create(t, r.srv.URL, catalogue.UserDeleted)
	var rotated []byte
	rotate = func(e webhook.Endpoint) {
		if rotated != nil || f.clock.Now().Sub(e.FailingSince) < time.Hour {
			return
		}
		if _, _, err := f.svc.RotateSecret(t.Context(), admin, e.ID); err != nil {
			t.Fatal(err)
		}
		now, _ := f.mem.Stores().Endpoints.Endpoint(t.Context(), e.ID)
		rotated = now.Secret
	}
	if err := f.svc.Deliver(t.Context(), event(catalogue.UserDeleted, 1)); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
		if ds[0].State != webhook.Pending {
			break
		}
		f.clock.Add(ds[0].NextAt.Sub(f.clock.Now()))
		_, _ = f.svc.RunDue(t.Context())
	}
	got, _ := f.mem.Stores().Endpoints.Endpoint(t.Context(), e.ID)
	if rotated == nil || got.Enabled {
		t.Fatalf("rotated %v, enabled %v: want a rotation, then the endpoint disabled", rotated != nil, got.Enabled)
	}
	if !bytes.Equal(got.Secret, rotated) {
		t.Error("disabling the endpoint undid the rotation committed just before: the old secret is back")
	}
}

// After a rotation both secrets sign for RotationOverlap, then only the
// new one.
func TestRotateSecret(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	r := newReceiver(t)
	e, old := f.create(t, r.srv.URL, webhook.AllTypes)
	_, fresh, err := f.svc.RotateSecret(t.Context(), admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == old {
		t.Fatal("rotation returned the same secret")
	}
	if _, err := f.svc.SendTest(t.Context(), admin, e.ID); err != nil {
		t.Fatal(err)
	}
	got := r.received()[0]
	verify(t, old, got)
	verify(t, fresh, got)
	f.clock.Add(webhook.RotationOverlap)
	if _, err := f.svc.SendTest(t.Context(), admin, e.ID); err != nil {
		t.Fatal(err)
	}
	got = r.received()[1]
	verify(t, fresh, got)
	if sigs := strings.Fields(got.header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("after the overlap %d signatures, want 1 (the previous secret retired)", len(sigs))
	}
}

// Secrets are stored sealed: the stored bytes do not hold the secret.
func TestSecretStoredSealed(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	e, secret := f.create(t, "https://hooks.example.com/x", catalogue.UserCreated)
	stored, _ := f.mem.Stores().Endpoints.Endpoint(t.Context(), e.ID)
	key := strings.TrimPrefix(string(secret), "whsec_")
	if strings.Contains(string(stored.Secret), key) || strings.Contains(string(stored.Secret), string(secret)) {
		t.Error("the stored secret holds the plaintext")
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t, webhook.Config{RequireHTTPS: true})
	for _, tt := range []struct {
		name  string
		in    webhook.NewEndpoint
		field string
	}{
		{"http in production", webhook.NewEndpoint{URL: "http://hooks.example.com/", Types: []string{"*"}}, "url"},
		{"not a url", webhook.NewEndpoint{URL: "hooks", Types: []string{"*"}}, "url"},
		{"unknown type", webhook.NewEndpoint{URL: "https://hooks.example.com/", Types: []string{"user.hacked"}}, "types"},
		{"no type", webhook.NewEndpoint{URL: "https://hooks.example.com/"}, "types"},
		{"loopback address", webhook.NewEndpoint{URL: "https://127.0.0.1/", Types: []string{"*"}}, "url"},
		{"metadata address", webhook.NewEndpoint{URL: "https://169.254.169.254/latest", Types: []string{"*"}}, "url"},
		{"private IPv6 address", webhook.NewEndpoint{URL: "https://[fd00::1]/", Types: []string{"*"}}, "url"},
		{"long description", webhook.NewEndpoint{URL: "https://hooks.example.com/", Types: []string{"*"}, Description: strings.Repeat("x", 256)}, "description"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.Create(t.Context(), admin, tt.in)
			v, ok := errors.AsType[*user.ValidationError](err)
			if !ok || v.Field != tt.field {
				t.Errorf("Create = %v, want a validation error of %q", err, tt.field)
			}
		})
	}
}

func TestOnlyAdministrators(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	e, _ := f.create(t, "https://hooks.example.com/x", catalogue.UserCreated)
	for _, u := range []user.User{{ID: uuid.New(), Role: user.RoleUser, IsActive: true}, {ID: uuid.New(), Role: user.RoleAdmin}} {
		if _, _, err := f.svc.Create(t.Context(), u, webhook.NewEndpoint{URL: "https://a.example/", Types: []string{"*"}}); !errors.Is(err, user.ErrForbidden) {
			t.Errorf("Create by %s (active %v) = %v, want ErrForbidden", u.Role, u.IsActive, err)
		}
		if _, _, err := f.svc.RotateSecret(t.Context(), u, e.ID); !errors.Is(err, user.ErrForbidden) {
			t.Errorf("RotateSecret by %s = %v, want ErrForbidden", u.Role, err)
		}
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	r := newReceiver(t)
	e, _ := f.create(t, r.srv.URL, webhook.AllTypes)
	ev := event(catalogue.SessionCreated, 1)
	if err := f.svc.Deliver(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
	rec, err := f.svc.Replay(t.Context(), admin, e.ID, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != webhook.Succeeded || len(rec.Attempts) != 2 {
		t.Errorf("replayed delivery: %s with %d attempts, want succeeded with 2", rec.State, len(rec.Attempts))
	}
	got := r.received()
	if len(got) != 2 || string(got[0].body) != string(got[1].body) || got[1].header.Get("webhook-id") != ev.ID {
		t.Errorf("the replay did not resend the same message with the same id")
	}
	events, _ := f.audit.Events(t.Context(), user.AuditFilter{Kinds: []user.AuditKind{webhook.AuditReplayed}})
	if len(events) != 1 || events[0].ActorID != admin.ID {
		t.Errorf("replay audit events = %+v, want one by the admin", events)
	}
	off := false
	if _, err := f.svc.Update(t.Context(), admin, e.ID, webhook.EndpointPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Replay(t.Context(), admin, uuid.New(), ds[0].ID); !errors.Is(err, webhook.ErrDeliveryNotFound) {
		t.Errorf("replay naming another endpoint = %v, want ErrDeliveryNotFound", err)
	}
	if _, err := f.svc.Replay(t.Context(), admin, e.ID, ds[0].ID); !errors.Is(err, webhook.ErrEndpointDisabled) {
		t.Errorf("replay to a disabled endpoint = %v, want ErrEndpointDisabled", err)
	}
}

// A delivery waiting for its retry is not being attempted: a replay goes
// at once, also after the third failure, whose wait (2 min without
// jitter) is as long as a claim's lease.
func TestReplayOfADeliveryWaitingItsRetryGoesNow(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	r := newReceiver(t)
	r.status.Store(http.StatusServiceUnavailable)
	e, _ := f.create(t, r.srv.URL, webhook.AllTypes)
	if err := f.svc.Deliver(t.Context(), event(catalogue.UserCreated, 1)); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{30 * time.Second, time.Minute} { // the first two retries
		f.clock.Add(wait)
		if n, err := f.svc.RunDue(t.Context()); n != 1 || err != nil {
			t.Fatalf("RunDue = %d, %v, want the one retry", n, err)
		}
	}
	ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 1)
	if ds[0].State != webhook.Pending || len(ds[0].Attempts) != 3 {
		t.Fatalf("delivery %s with %d attempts, want pending after 3", ds[0].State, len(ds[0].Attempts))
	}
	r.status.Store(http.StatusNoContent)
	rec, err := f.svc.Replay(t.Context(), admin, e.ID, ds[0].ID)
	if err != nil || rec.State != webhook.Succeeded || len(rec.Attempts) != 4 {
		t.Errorf("Replay = %s with %d attempts, %v; want succeeded with 4", rec.State, len(rec.Attempts), err)
	}
}

// A test event goes once, even to a disabled endpoint, and a failure does
// not retry or count against the endpoint.
func TestSendTest(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	r := newReceiver(t)
	r.status.Store(http.StatusBadGateway)
	e, _ := f.create(t, r.srv.URL, catalogue.UserCreated)
	rec, err := f.svc.SendTest(t.Context(), admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != webhook.Failed || len(rec.Attempts) != 1 || rec.Attempts[0].Status != 502 || rec.EventType != webhook.TestType {
		t.Errorf("test delivery = %+v, want failed once with 502", rec)
	}
	if got, _ := f.svc.Get(t.Context(), admin, e.ID); !got.FailingSince.IsZero() {
		t.Error("a failed test counts against the endpoint")
	}
}

// Storage errors reach the caller of Deliver (a job queue retries them);
// a receiver's failure does not.
func TestDeliverReportsOnlyStorageErrors(t *testing.T) {
	f := newFixture(t, webhook.Config{AllowPrivate: true})
	f.create(t, "http://127.0.0.1:1/closed", webhook.AllTypes)
	if err := f.svc.Deliver(context.Background(), event(catalogue.UserCreated, 1)); err != nil {
		t.Errorf("Deliver to a closed port = %v, want nil (the delivery is retried)", err)
	}
}

// A receiver down while a user's events pile up gets them in Seq order
// once it returns, although the jitter makes the later ones due first.
func TestDeliveriesOfAUserGoInOrder(t *testing.T) {
	var mu sync.Mutex
	draws := []float64{0.99, 0.5, 0.0} // the first event waits longest
	n := 0
	f := newFixtureRand(t, webhook.Config{AllowPrivate: true}, func() float64 {
		mu.Lock()
		defer mu.Unlock()
		n++
		return draws[(n-1)%len(draws)]
	})
	r := newReceiver(t)
	e, _ := f.create(t, r.srv.URL, webhook.AllTypes)
	r.status.Store(http.StatusServiceUnavailable)
	subject := uuid.New()
	var ids []string
	for seq := int64(1); seq <= 3; seq++ {
		ev := event(catalogue.UserUpdated, seq)
		ev.Subject = subject
		ids = append(ids, ev.ID)
		if err := f.svc.Deliver(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(r.received()); got != 1 {
		t.Errorf("while the first event is failing, the receiver got %d messages, want 1 (the others wait their turn)", got)
	}
	r.status.Store(http.StatusOK)
	for range 20 {
		ds, _ := f.svc.Deliveries(t.Context(), admin, e.ID, 10)
		var next time.Time
		for _, d := range ds {
			if d.State == webhook.Pending && (next.IsZero() || d.NextAt.Before(next)) {
				next = d.NextAt
			}
		}
		if next.IsZero() {
			break
		}
		f.clock.Add(next.Sub(f.clock.Now()))
		if _, err := f.svc.RunDue(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, m := range r.received() {
		if id := m.header.Get("webhook-id"); len(got) == 0 || got[len(got)-1] != id {
			got = append(got, id)
		}
	}
	if len(got) != 3 || got[0] != ids[0] || got[1] != ids[1] || got[2] != ids[2] {
		t.Errorf("the receiver got the events in the order %v, want %v", got, ids)
	}
}

// unrecordable is a store that refuses every attempt (as PostgreSQL
// refuses an error text that is not valid UTF-8) but saves deliveries.
type unrecordable struct{ webhook.Deliveries }

var errUnrecordable = errors.New("the storage refused the attempt")

func (u unrecordable) SaveDelivery(ctx context.Context, d webhook.Delivery, f webhook.Fence, a *webhook.Attempt) error {
	if a != nil {
		return errUnrecordable
	}
	return u.Deliveries.SaveDelivery(ctx, d, f, nil)
}

// A delivery whose attempts cannot be stored still moves on: retried on
// the backoff schedule, failed at the end of its retry window, and the
// user's next event no longer held behind it. (It used to stay claimed,
// sent again at every lease's expiry for ever.)
func TestDeliveryWhoseAttemptsCannotBeStoredStillEnds(t *testing.T) {
	f := newFixtureOver(t, webhook.Config{AllowPrivate: true, RetryFor: time.Hour}, func() float64 { return 0.5 },
		func(s *webhook.Stores) { s.Deliveries = unrecordable{s.Deliveries} })
	svc, clk := f.svc, f.clock
	r := newReceiver(t)
	r.status.Store(http.StatusServiceUnavailable)
	e, _, err := svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: r.srv.URL, Types: []string{webhook.AllTypes}})
	if err != nil {
		t.Fatal(err)
	}
	first, second := event(catalogue.UserCreated, 1), event(catalogue.UserUpdated, 2)
	second.Subject = first.Subject
	if err := svc.Deliver(t.Context(), first); !errors.Is(err, errUnrecordable) {
		t.Errorf("Deliver = %v, want the storage's refusal reported", err)
	}
	if err := svc.Deliver(t.Context(), second); err != nil { // held behind the first: not sent
		t.Errorf("Deliver of the user's next event = %v", err)
	}
	for range 90 { // 3 h in 2-minute polls: past both retry windows
		clk.Add(2 * time.Minute)
		_, _ = svc.RunDue(t.Context()) // each attempt's refusal is reported
	}
	ds, err := svc.Deliveries(t.Context(), admin, e.ID, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries = %v, %v", ds, err)
	}
	for _, d := range ds {
		if d.State != webhook.Failed {
			t.Errorf("delivery %s is %s after its retry window (held %v), want failed", d.EventID, d.State, d.Held)
		}
	}
	// The backoff (30 s doubling) makes 8 attempts in an hour, each; sent
	// at every lease's expiry it would be 30 and more.
	if got := len(r.received()); got > 2*9 {
		t.Errorf("receiver got %d messages, want each delivery's retries only (at most %d)", got, 2*9)
	}
}
