package httpapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/user"
)

// addEvents appends n events about subject straight to the store, in
// transactions of a thousand.
func (s *server) addEvents(subject uuid.UUID, n int) {
	s.t.Helper()
	at := s.Clock.Now()
	for done := 0; done < n; {
		batch := min(1000, n-done)
		err := s.Stores.Tx.Atomic(s.t.Context(), func(tx user.Stores) error {
			for i := range batch {
				e := user.AuditEvent{At: at, Kind: user.AuditLoginFailed, SubjectID: subject, IP: "203.0.113.9",
					UserAgent: "export-test/1.0", RequestID: "req-" + strconv.Itoa(done+i),
					Detail: map[string]string{"reason": "wrong_password"}}
				if err := tx.Audit.Append(s.t.Context(), e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.t.Fatalf("add events: %v", err)
		}
		done += batch
	}
}

// TestExportStreamsEveryEvent: an export of more events than a page
// holds has every event about the account exactly once, newest first, and
// nothing about anyone else, in the document the export has always had;
// also when the events fill their last page exactly, or leave one event
// on it, or one short of it (the edges of the service's paging), with
// another account's events between the account's.
func TestExportStreamsEveryEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, tok := s.signedUp()
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
		id := uuid.MustParse(me["id"].(string))
		_, otherID := s.signUp()
		const page = user.ExportPage
		for _, total := range []int{page - 1, page, page + 1, 2*page - 1, 2 * page, 2*page + 3} {
			stored, err := s.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id})
			if err != nil {
				t.Fatal(err)
			}
			s.addEvents(otherID, 3)
			s.addEvents(id, total-len(stored))
			if stored, err = s.Stores.Audit.Events(t.Context(), user.AuditFilter{SubjectID: id}); err != nil {
				t.Fatal(err)
			}
			if len(stored) != total {
				t.Fatalf("%d events stored, want %d", len(stored), total)
			}
			s.exportIsExactly(tok, id, stored)
		}
	})
}

// exportIsExactly exports the account of tok (id) and fails unless the
// document's events are stored, in that order.
func (s *server) exportIsExactly(tok string, id uuid.UUID, stored []user.AuditEvent) {
	s.t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/export", token: tok})
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/json" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="usersvc-export.json"` {
		s.t.Fatalf("export: got %d %v", res.Status, res.Header)
	}
	var x struct {
		ExportedAt  *time.Time        `json:"exported_at"`
		Profile     map[string]any    `json:"profile"`
		Sessions    []json.RawMessage `json:"sessions"`
		AuditEvents []struct {
			ID        int64  `json:"id"`
			SubjectID string `json:"subject_id"`
			Kind      string `json:"kind"`
		} `json:"audit_events"`
	}
	if err := json.Unmarshal(res.Body, &x); err != nil {
		s.t.Fatalf("the export is not one JSON document: %v", err)
	}
	if x.ExportedAt == nil || x.Profile["id"] != id.String() || len(x.Sessions) != 1 {
		s.t.Errorf("exported_at %v, profile %v, %d sessions; want a time, the profile and the one session", x.ExportedAt, x.Profile, len(x.Sessions))
	}
	if len(x.AuditEvents) != len(stored) {
		s.t.Fatalf("%d events exported, want the %d stored", len(x.AuditEvents), len(stored))
	}
	for i, e := range x.AuditEvents {
		if e.ID != stored[i].ID || e.SubjectID != id.String() || e.Kind != string(stored[i].Kind) {
			s.t.Fatalf("event %d of %d: id %d (%s) about %s, want %d (%s) about %s",
				i, len(stored), e.ID, e.Kind, e.SubjectID, stored[i].ID, stored[i].Kind, id)
		}
	}
}

// heapWatcher is a ResponseWriter that throws the body away and, every
// sample bytes of it, measures the live heap (after a collection): the
// most it saw is what serving the response held at most, beside what was
// live before.
type heapWatcher struct {
	header  http.Header
	status  int
	written int
	next    int
	sample  int
	peak    uint64
}

func (w *heapWatcher) Header() http.Header  { return w.header }
func (w *heapWatcher) WriteHeader(code int) { w.status = code }
func (w *heapWatcher) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.written += len(b)
	if w.written >= w.next {
		w.next = w.written + w.sample
		w.peak = max(w.peak, liveHeap())
	}
	return len(b), nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// exportHeap exports the account of tok into a heapWatcher and returns
// how much more live heap serving it held at most, and the body's size.
func (s *server) exportHeap(tok string) (held uint64, body int) {
	s.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/v1/users/me/export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &heapWatcher{header: http.Header{}, sample: 256 << 10}
	before := liveHeap()
	s.h.ServeHTTP(w, r)
	if w.status != http.StatusOK {
		s.t.Fatalf("export: status %d", w.status)
	}
	if w.peak < before {
		return 0, w.written
	}
	return w.peak - before, w.written
}

// TestExportMemoryStaysBounded: the export holds one page of events
// whatever their number (finding 3 of issue 18: it loaded every event of
// the account; issue 25: 481 MB for a million on SQLite). With many times
// more events, the most it holds stays within a page's worth of what it
// holds with a few, far below the size of the document. Not parallel,
// so that no other test's allocations are measured.
func TestExportMemoryStaysBounded(t *testing.T) {
	for _, kind := range []string{apptest.Memory, apptest.SQLite, apptest.Postgres} {
		t.Run(kind, func(t *testing.T) {
			// Adding events to the databases is slow (a round trip each on
			// PostgreSQL, SQLite compiled from C under the race detector):
			// fewer there, still 16 pages.
			many := 40_000
			if kind != apptest.Memory || testing.Short() {
				many = 8_000
			}
			s := newServer(t, kind)
			held := map[int]uint64{}
			var body int
			for _, n := range []int{user.ExportPage, many} {
				_, tok := s.signedUp()
				me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
				s.addEvents(uuid.MustParse(me["id"].(string)), n)
				held[n], body = s.exportHeap(tok)
			}
			t.Logf("%s: held at most %d KiB exporting %d events, %d KiB exporting %d (a %d KiB document)",
				kind, held[user.ExportPage]>>10, user.ExportPage, held[many]>>10, many, body>>10)
			const slack = 2 << 20 // a page of events as the stores read them is about 0.5 MiB
			// Holding every event, as the export did, held more than the
			// document itself (8 MiB for a 4.8 MiB one).
			if held[many] > held[user.ExportPage]+slack || held[many] > uint64(body)/2 {
				t.Errorf("exporting %d events held %d KiB (%d KiB for %d), for a %d KiB document: want about one page's worth",
					many, held[many]>>10, held[user.ExportPage]>>10, user.ExportPage, body>>10)
			}
		})
	}
}

// slowClient is a ResponseWriter that takes pause over the first part of
// the body, as a client on a slow link would, and keeps the rest.
type slowClient struct {
	*httptest.ResponseRecorder
	pause  time.Duration
	paused bool
}

func (c *slowClient) Write(b []byte) (int, error) {
	if !c.paused {
		c.paused = true
		time.Sleep(c.pause) // the client, not a synchronisation
	}
	return c.ResponseRecorder.Write(b)
}

// TestLongExportOutlivesTheStatementTimeout: on PostgreSQL every store
// call is bounded to 5 s; an export that takes longer in all, because its
// client reads slowly, still completes, since each page is a query of its
// own, read whole before it is written (issue 25: an export of 250k
// events answered 503 after 5 s). A cursor held open across the writes,
// or one deadline for the whole export, would fail here.
func TestLongExportOutlivesTheStatementTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 5.5 s")
	}
	t.Parallel()
	s := newServer(t, apptest.Postgres)
	_, tok := s.signedUp()
	me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
	s.addEvents(uuid.MustParse(me["id"].(string)), 2*user.ExportPage)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/users/me/export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &slowClient{ResponseRecorder: httptest.NewRecorder(), pause: 5500 * time.Millisecond}
	start := time.Now()
	s.h.ServeHTTP(w, r)
	var x struct {
		AuditEvents []json.RawMessage `json:"audit_events"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &x); err != nil || w.Code != http.StatusOK {
		t.Fatalf("export over %s: status %d, %v", time.Since(start), w.Code, err)
	}
	if len(x.AuditEvents) < 2*user.ExportPage {
		t.Errorf("export over %s: %d events, want at least %d", time.Since(start), len(x.AuditEvents), 2*user.ExportPage)
	}
}

// failingClient is a ResponseWriter that breaks the store once the first
// bytes of the body are written.
type failingClient struct {
	*httptest.ResponseRecorder
	fail func()
}

func (c *failingClient) Write(b []byte) (int, error) {
	if c.fail != nil {
		c.fail()
		c.fail = nil
	}
	return c.ResponseRecorder.Write(b)
}

// TestExportBrokenOffWhenTheStoreFails: once the 200 is on its way, a
// store that fails before the last page can only be told by breaking the
// response off (net/http's ErrAbortHandler): the client never gets a
// truncated document that parses as a whole one, and the log says why.
func TestExportBrokenOffWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory)
	_, tok := s.signedUp()
	me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
	s.addEvents(uuid.MustParse(me["id"].(string)), 2*user.ExportPage)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/users/me/export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &failingClient{ResponseRecorder: httptest.NewRecorder(), fail: func() { s.Memory.SetFail(errors.New("disk on fire")) }}
	defer s.Memory.SetFail(nil)
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel, never wrapped
				t.Errorf("export on a store failing midway: recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		s.h.ServeHTTP(w, r)
	}()
	if json.Valid(w.Body.Bytes()) {
		t.Errorf("the broken-off export parses as JSON (%d bytes)", w.Body.Len())
	}
	if !strings.Contains(string(s.Logs.Bytes()), "export broken off") {
		t.Error("the log does not say why the export was broken off")
	}
}

// smallWindow is a client whose connections take at most 16 KiB at a
// time from the server (a small receive buffer), so that a server writing
// to a client that reads slowly waits in its writes, as it does over a
// slow link.
func smallWindow() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		_ = c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return err
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// smallSendBuffer is a listener whose connections have a 16 KiB send
// buffer.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		err = errors.Join(err, tc.SetWriteBuffer(16<<10))
	}
	return c, err
}

// TestLongExportOutlivesTheServerTimeouts: the server bounds how long an
// answer may take to write (WriteTimeout: app.Serve sets 30 s, counted
// from the request) and breaks off whatever is still being written then.
// An export that takes longer, because the account has a million events
// or its client reads slowly, must still arrive whole (issue 25:
// bench/export saw the export of a million events cut off at 30 s on both
// stores). Here the bound is 1 s and the client pauses 2 s after the
// first bytes.
func TestLongExportOutlivesTheServerTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2 s")
	}
	t.Parallel()
	s := newServer(t, apptest.Memory)
	_, tok := s.signedUp()
	me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
	const events = 80 * user.ExportPage // 10 MB: more than the sockets' buffers hold (4 MB at most)
	s.addEvents(uuid.MustParse(me["id"].(string)), events)
	srv := httptest.NewUnstartedServer(s.h)
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()

	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/users/me/export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	res, err := smallWindow().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first := make([]byte, 1024)
	if _, err := io.ReadFull(res.Body, first); err != nil {
		t.Fatalf("export: status %d, first bytes: %v", res.StatusCode, err)
	}
	time.Sleep(2 * time.Second) // the slow client, not a synchronisation
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("export broken off after %s and %d bytes: %v", time.Since(start), len(first)+len(rest), err)
	}
	var x struct {
		AuditEvents []json.RawMessage `json:"audit_events"`
	}
	if err := json.Unmarshal(append(first, rest...), &x); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export over %s: status %d, %v", time.Since(start), res.StatusCode, err)
	}
	t.Logf("export: %d bytes over %s", len(first)+len(rest), time.Since(start))
	if len(x.AuditEvents) < events {
		t.Errorf("export over %s: %d events, want at least %d", time.Since(start), len(x.AuditEvents), events)
	}
}

// TestStalledExportClientIsLetGo: lifting the server's bound on the whole
// answer does not let a client hold an export (a connection, a goroutine,
// a page of events) by ceasing to read: each write of the export has
// Options.ExportWriteWait (30 s by default; 200 ms here), after which the
// response is broken off, and the log says so. The server's own bound is
// app.Serve's 30 s, which this client's 2 s pause never reaches.
func TestStalledExportClientIsLetGo(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2 s")
	}
	t.Parallel()
	s := newServer(t, apptest.Memory)
	_, tok := s.signedUp()
	me := s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).object(t)
	s.addEvents(uuid.MustParse(me["id"].(string)), 80*user.ExportPage)
	h := httpapi.New(s.App.Service(), httpapi.Options{
		Logger: slog.New(slog.NewJSONHandler(s.Logs, nil)), ExportWriteWait: 200 * time.Millisecond,
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.WriteTimeout = 30 * time.Second
	// The server's send buffer small as well as the client's window, so
	// that the stalled client fills both within a few pages however fast
	// the server makes them (a loopback send buffer grows to megabytes: a
	// server slowed by a loaded machine wrote no more than that during the
	// pause, never waited on a write, and the export arrived whole).
	srv.Listener = smallSendBuffer{srv.Listener}
	srv.Start()
	defer srv.Close()

	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/users/me/export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	res, err := smallWindow().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first := make([]byte, 1024)
	if _, err := io.ReadFull(res.Body, first); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export: status %d, first bytes: %v", res.StatusCode, err)
	}
	time.Sleep(2 * time.Second) // the stalled client, not a synchronisation
	rest, err := io.ReadAll(res.Body)
	if err == nil && json.Valid(append(first, rest...)) {
		t.Fatalf("a client that stopped reading for 2 s got the whole export (%d bytes); want it broken off after 200 ms", len(first)+len(rest))
	}
	if !strings.Contains(string(s.Logs.Bytes()), "export broken off") {
		t.Error("the log does not say why the export was broken off")
	}
}
