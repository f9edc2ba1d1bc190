package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

type webhookBody struct {
	ID                  string   `json:"id"`
	URL                 string   `json:"url"`
	Types               []string `json:"types"`
	Enabled             bool     `json:"enabled"`
	Secret              string   `json:"secret"`
	PreviousSecretUntil *string  `json:"previous_secret_until"`
}

type deliveryBody struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	State     string `json:"state"`
	Attempts  []struct {
		N          int    `json:"n"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
	} `json:"attempts"`
}

func decode[T any](t *testing.T, res response, status int) T {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	var v T
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	return v
}

func (s *server) createWebhook(token, body string) webhookBody {
	s.t.Helper()
	return decode[webhookBody](s.t, s.do(req{method: "POST", path: "/api/v1/admin/webhooks", token: token, body: body}), http.StatusCreated)
}

func (s *server) sendTestWebhook(token, id string) deliveryBody {
	s.t.Helper()
	return decode[deliveryBody](s.t, s.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + id + "/test", token: token}), http.StatusOK)
}

// hookReceiver records the messages a webhook receiver on loopback gets.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []*http.Request
	bod [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.bod = append(r.got, req), append(r.bod, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) verify(t *testing.T, i int, secret string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.got) {
		t.Fatalf("receiver got %d messages, want at least %d", len(r.got), i+1)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(r.bod[i], r.got[i].Header); err != nil {
		t.Errorf("message %d does not verify with the secret: %v", i, err)
	}
}

// The administrator's whole round: create, read, change, test, rotate,
// list deliveries, replay, delete; every change in the audit log.
func TestWebhookAdministration(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		rcv := newHookReceiver(t)

		created := s.createWebhook(tok, `{"url":"`+rcv.URL+`/hook","types":["user.deleted"],"description":"billing"}`) // no event of this test
		if !strings.HasPrefix(created.Secret, "whsec_") || !created.Enabled {
			t.Fatalf("created = %+v, want enabled with a whsec_ secret", created)
		}
		path := "/api/v1/admin/webhooks/" + created.ID
		got := s.do(req{method: "GET", path: path, token: tok})
		if strings.Contains(string(got.Body), created.Secret) || strings.Contains(string(got.Body), `"secret"`) {
			t.Errorf("GET shows the secret: %s", got.Body)
		}
		list := decode[struct{ Items []webhookBody }](t, s.do(req{method: "GET", path: "/api/v1/admin/webhooks", token: tok}), 200)
		if len(list.Items) != 1 || list.Items[0].ID != created.ID {
			t.Errorf("list = %+v, want the one endpoint", list.Items)
		}
		updated := decode[webhookBody](t, s.do(req{method: "PATCH", path: path, token: tok, body: `{"types":["user.deleted","user.reactivated"]}`}), 200)
		if len(updated.Types) != 2 {
			t.Errorf("updated types = %v", updated.Types)
		}

		d := s.sendTestWebhook(tok, created.ID)
		if d.State != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != http.StatusOK || d.EventType != "webhook.test" {
			t.Errorf("test delivery = %+v, want succeeded at once", d)
		}
		rcv.verify(t, 0, created.Secret)

		rotated := decode[webhookBody](t, s.do(req{method: "POST", path: path + "/rotate-secret", token: tok}), 200)
		if rotated.Secret == created.Secret || rotated.PreviousSecretUntil == nil {
			t.Errorf("rotated = %+v, want a new secret and the previous one's end", rotated)
		}
		replayed := decode[deliveryBody](t, s.do(req{method: "POST", path: path + "/deliveries/" + d.ID + "/replay", token: tok}), 200)
		if len(replayed.Attempts) != 2 || replayed.State != "succeeded" {
			t.Errorf("replayed = %+v, want a second successful attempt", replayed)
		}
		rcv.verify(t, 1, created.Secret) // both secrets sign during the overlap
		rcv.verify(t, 1, rotated.Secret)

		ds := decode[struct{ Items []deliveryBody }](t, s.do(req{method: "GET", path: path + "/deliveries?limit=5", token: tok}), 200)
		if len(ds.Items) != 1 || ds.Items[0].ID != d.ID || len(ds.Items[0].Attempts) != 2 {
			t.Errorf("deliveries = %+v, want the test delivery with 2 attempts", ds.Items)
		}

		if res := s.do(req{method: "DELETE", path: path, token: tok}); res.Status != http.StatusNoContent {
			t.Fatalf("delete: %v", res)
		}
		if res := s.do(req{method: "GET", path: path, token: tok}); res.Status != http.StatusNotFound {
			t.Errorf("GET after delete: %d, want 404", res.Status)
		}
		kinds := "webhook.created,webhook.updated,webhook.test_sent,webhook.secret_rotated,webhook.replayed,webhook.deleted"
		res := s.do(req{method: "GET", path: "/api/v1/admin/audit?limit=100&kind=" + kinds, token: tok})
		if res.Status != http.StatusOK {
			t.Fatalf("audit filtered by the webhook kinds: %d %s", res.Status, res.Body)
		}
		audit := string(res.Body)
		for _, kind := range []string{"webhook.created", "webhook.updated", "webhook.test_sent", "webhook.secret_rotated", "webhook.replayed", "webhook.deleted"} {
			if !strings.Contains(audit, `"`+kind+`"`) {
				t.Errorf("the audit log has no %s event", kind)
			}
		}
	})
}

// Anyone but an administrator gets 403 on every webhook route.
func TestWebhooksAreForAdministratorsOnly(t *testing.T) {
	s := newServer(t, apptest.Memory)
	_, tok := s.signedUp()
	for _, r := range []req{
		{method: "GET", path: "/api/v1/admin/webhooks"},
		{method: "POST", path: "/api/v1/admin/webhooks", body: `{"url":"https://hooks.example.com/","types":["*"]}`},
		{method: "POST", path: "/api/v1/admin/webhooks/00000000-0000-0000-0000-000000000001/rotate-secret"},
	} {
		r.token = tok
		if res := s.do(r); res.Status != http.StatusForbidden {
			t.Errorf("%s %s by a user: %d, want 403", r.method, r.path, res.Status)
		}
	}
}

// SSRF over the API: an address literal that is private is refused when
// the endpoint is made; a name is checked at connection time, so a test
// event to loopback fails without reaching it.
func TestWebhookRefusesPrivateDestinations(t *testing.T) {
	s := newServer(t, apptest.Memory)
	admin, adminID := s.signUp()
	s.setRole(adminID, user.RoleAdmin)
	tok := s.token(admin.Username, admin.Password)
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8080/", "http://[::1]/", "http://10.0.0.1/"} {
		res := s.do(req{method: "POST", path: "/api/v1/admin/webhooks", token: tok, body: `{"url":"` + u + `","types":["*"]}`})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "refused") {
			t.Errorf("create %s: %d %s, want 422 refused", u, res.Status, res.Body)
		}
	}
	rcv := newHookReceiver(t)
	rebound := strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1) // a name resolving to loopback
	created := s.createWebhook(tok, `{"url":"`+rebound+`","types":["*"]}`)
	d := s.sendTestWebhook(tok, created.ID)
	if d.State != "failed" || !strings.Contains(d.Attempts[0].Error, "refused") {
		t.Errorf("test to a name resolving to loopback = %+v, want failed: refused", d)
	}
	if n := len(rcv.got); n != 0 {
		t.Errorf("the loopback receiver got %d requests, want 0", n)
	}
	res := s.do(req{method: "POST", path: "/api/v1/admin/webhooks", token: tok, body: `{"url":"https://hooks.example.com/","types":["user.hacked"]}`})
	if res.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown event type: %d, want 422", res.Status)
	}
}

// A change reaches a subscribed endpoint through the job queue: the
// registration's user.created event is delivered, signed, with the
// catalogue's body.
func TestChangesReachWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		bodies := make(chan []byte, 16)
		headers := make(chan http.Header, 16)
		rcv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
			b, _ := io.ReadAll(req.Body)
			bodies <- b
			headers <- req.Header.Clone()
		}))
		t.Cleanup(rcv.Close)
		created := s.createWebhook(tok, `{"url":"`+rcv.URL+`/hook","types":["user.created"]}`)

		_, newID := s.signUp()
		var got struct {
			ID, Type string
			Subject  string
			Seq      int64
			Data     map[string]any
		}
		// The administrator's own events, queued before the endpoint existed,
		// may come first: they are handed out when their job runs.
		for got.Subject != newID.String() {
			select {
			case b := <-bodies:
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("delivery body %s: %v", b, err)
				}
				wh, err := standardwebhooks.NewWebhook(created.Secret)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.VerifyIgnoringTimestamp(b, <-headers); err != nil {
					t.Errorf("the delivery does not verify with the endpoint's secret: %v", err)
				}
				if got.Type != "user.created" {
					t.Errorf("delivered a %s event to an endpoint subscribed to user.created only", got.Type)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery within 10 s of the registration")
			}
		}
		if got.Type != "user.created" || got.Subject != newID.String() || got.Seq != 1 || got.ID == "" {
			t.Errorf("delivered %+v, want user.created of %s with seq 1", got, newID)
		}
		if _, ok := got.Data["password"]; ok {
			t.Errorf("the event's data holds a password field: %v", got.Data)
		}
	})
}

// replayWhileSending asks, from inside the receiver, for the replay of a
// delivery whose attempt (a test event's) is being sent, and returns the
// answer to that replay.
func replayWhileSending(t *testing.T) response {
	s := newServer(t, apptest.Memory, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
	a, id := s.signUp()
	s.setRole(id, user.RoleAdmin)
	tok := s.token(a.Username, a.Password)
	var path string // set before the receiver is first called
	var first atomic.Bool
	answer := make(chan response, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if first.CompareAndSwap(false, true) { // a replay that went through would come here again
			var list struct{ Items []deliveryBody }
			_ = json.Unmarshal(s.do(req{method: "GET", path: path + "/deliveries", token: tok}).Body, &list)
			if len(list.Items) == 1 {
				answer <- s.do(req{method: "POST", path: path + "/deliveries/" + list.Items[0].ID + "/replay", token: tok})
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	hook := s.createWebhook(tok, `{"url":"`+rcv.URL+`/hook","types":["*"]}`).ID
	path = "/api/v1/admin/webhooks/" + hook
	s.sendTestWebhook(tok, hook)
	select {
	case r := <-answer:
		return r
	default:
		t.Fatal("the receiver got no test event, or found no delivery to replay")
		return response{}
	}
}

// An IPv6 address that carries an IPv4 one is checked as that IPv4
// address: IPv4-compatible (::a.b.c.d), IPv4-translated
// (::ffff:0:a.b.c.d) and 6to4 (2002:aabb:ccdd::) addresses of loopback,
// private networks or the metadata service are refused as those are, and
// the metadata service's also with USERSVC_WEBHOOK_ALLOW_PRIVATE=on. (They
// used to pass as public addresses: on a network that translates or
// tunnels them, a way to the internal network.)
func TestWebhookRefusesIPv4CarriedInIPv6(t *testing.T) {
	for _, allowPrivate := range []string{"off", "on"} {
		s := newServer(t, apptest.Memory, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", allowPrivate))
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		refused := []string{"http://[::a9fe:a9fe]/", "http://[::ffff:0:a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/"}
		if allowPrivate == "off" {
			refused = append(refused, "http://[::7f00:1]/", "http://[::ffff:0:a00:1]/", "http://[2002:c0a8:101::1]/", "http://[2002:7f00:1::1]/")
		}
		for _, u := range refused {
			res := s.do(req{method: "POST", path: "/api/v1/admin/webhooks", token: tok, body: `{"url":"` + u + `","types":["*"]}`})
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "refused") {
				t.Errorf("allow-private %s: create %s: %d %s, want 422 refused", allowPrivate, u, res.Status, res.Body)
			}
		}
		// 6to4 of a public address is public.
		s.createWebhook(tok, `{"url":"http://[2002:5db8:d822::1]/","types":["*"]}`)
	}
}

// An IPv6 address literal with a zone (fe80::1%eth0) is checked as the
// address without it: netip's prefix checks match no zoned address, so
// a zone used to carry any address past them (the metadata service's
// through NAT64 or 6to4, AWS's over IPv6 with
// USERSVC_WEBHOOK_ALLOW_PRIVATE=on, loopback carried in IPv6 without it).
func TestWebhookRefusesZonedAddresses(t *testing.T) {
	for _, allowPrivate := range []string{"off", "on"} {
		s := newServer(t, apptest.Memory, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", allowPrivate))
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		refused := []string{
			"http://[2002:a9fe:a9fe::1%25eth0]/", "http://[64:ff9b::a9fe:a9fe%25eth0]/", "http://[::a9fe:a9fe%25eth0]/",
			"http://[fd00:ec2::254%25eth0]/", "http://[fe80::1%25eth0]/",
		}
		if allowPrivate == "off" {
			refused = append(refused, "http://[::7f00:1%25eth0]/", "http://[2002:a00:1::1%25eth0]/", "http://[64:ff9b::7f00:1%25eth0]/")
		}
		for _, u := range refused {
			res := s.do(req{method: "POST", path: "/api/v1/admin/webhooks", token: tok, body: `{"url":"` + u + `","types":["*"]}`})
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "refused") {
				t.Errorf("allow-private %s: create %s: %d %s, want 422 refused", allowPrivate, u, res.Status, res.Body)
			}
		}
	}
}

// A receiver that holds every request open does not hold back the other
// endpoints: each user's event reaches a quick endpoint while the slow
// one has still not answered, also when there are more events than the
// job queue runs at once. (Each event's job used to send to its endpoints
// one after another and wait for each, up to the client's 15 s timeout,
// so the slow endpoint, registered first, delayed every other delivery,
// and took every worker of the events' queue, the NATS sink's included.)
func TestSlowWebhookReceiverDoesNotDelayOthers(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		if kind == apptest.Memory {
			t.Skip("the in-memory store queues no events")
		}
		s := newServer(t, kind, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
		admin, adminID := s.signUp()
		s.setRole(adminID, user.RoleAdmin)
		tok := s.token(admin.Username, admin.Password)
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) }) // before slow.Close, which waits for its handlers
		subjects := make(chan string, 64)
		quick := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			var e struct{ Subject string }
			_ = json.NewDecoder(r.Body).Decode(&e)
			subjects <- e.Subject
		}))
		t.Cleanup(quick.Close)
		s.createWebhook(tok, `{"url":"`+slow.URL+`/hook","types":["user.created"]}`)
		s.createWebhook(tok, `{"url":"`+quick.URL+`/hook","types":["user.created"]}`)

		want := map[string]bool{}
		for range 8 { // more than the events' queue runs at once (4)
			_, id := s.signUp()
			want[id.String()] = true
		}
		deadline := time.After(10 * time.Second) // within the client's 15 s timeout for the slow one
		for len(want) > 0 {
			select {
			case sub := <-subjects:
				delete(want, sub)
			case <-deadline:
				t.Fatalf("%d users' user.created did not reach the quick endpoint within 10 s while the slow one held its requests", len(want))
			}
		}
	})
}

// A replay of a deleted account's event (here its user.created, with its
// email and name) is refused: the receiver purged the account when
// user.deleted came, and the replay, going at once and out of order, would
// have given it back what the deletion took (docs/security.md, "Erasure":
// the account's events reach an endpoint before user.deleted, never
// after). user.deleted itself may be sent again.
func TestReplayOfADeletedAccountsEventIsRefused(t *testing.T) {
	s := newServer(t, apptest.SQLite, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
	admin, adminID := s.signUp()
	s.setRole(adminID, user.RoleAdmin)
	tok := s.token(admin.Username, admin.Password)
	type msg struct{ ID, Type, Subject string }
	got := make(chan msg, 64)
	rcv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m msg
		_ = json.NewDecoder(r.Body).Decode(&m)
		got <- m
	}))
	t.Cleanup(rcv.Close)
	hook := s.createWebhook(tok, `{"url":"`+rcv.URL+`/hook","types":["user.created","user.deleted"]}`)
	bob, bobID := s.signUp()
	if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: s.token(bob.Username, bob.Password)}); res.Status != http.StatusNoContent {
		t.Fatalf("delete: %v, want 204", res)
	}
	events := map[string]string{} // bob's events by type: their ids
	for deadline := time.After(10 * time.Second); events["user.deleted"] == ""; {
		select {
		case m := <-got:
			if m.Subject == bobID.String() {
				events[m.Type] = m.ID
			}
		case <-deadline:
			t.Fatalf("bob's user.created and user.deleted did not arrive within 10 s: got %v", events)
		}
	}
	path := "/api/v1/admin/webhooks/" + hook.ID
	byEvent := map[string]string{} // the deliveries by event id, once bob's have ended
	for deadline := time.Now().Add(10 * time.Second); byEvent[events["user.deleted"]] == ""; {
		if time.Now().After(deadline) {
			t.Fatal("bob's user.deleted delivery is still pending 10 s after it arrived")
		}
		list := decode[struct{ Items []deliveryBody }](t, s.do(req{method: "GET", path: path + "/deliveries", token: tok}), http.StatusOK)
		for _, d := range list.Items {
			if d.State != "pending" {
				byEvent[d.EventID] = d.ID
			}
		}
	}
	res := s.do(req{method: "POST", path: path + "/deliveries/" + byEvent[events["user.created"]] + "/replay", token: tok})
	if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "account_deleted") {
		t.Errorf("replay of the deleted account's user.created: %d %s, want 409 account_deleted", res.Status, res.Body)
	}
	res = s.do(req{method: "POST", path: path + "/deliveries/" + byEvent[events["user.deleted"]] + "/replay", token: tok})
	if res.Status != http.StatusOK {
		t.Errorf("replay of user.deleted: %d %s, want 200", res.Status, res.Body)
	}
	for len(got) > 0 { // a replay answers once its attempt is made
		if m := <-got; m.Subject == bobID.String() && m.Type != "user.deleted" {
			t.Errorf("the receiver got bob's %s again after user.deleted", m.Type)
		}
	}
}
