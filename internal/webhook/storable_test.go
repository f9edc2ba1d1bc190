package webhook_test

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	catalogue "github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/webhook"
)

// malformedReceiver answers every request with a status line of more
// than maxErrorText bytes of two-byte runes and no space: net/http quotes
// it (%q keeps printable runes) in its error, which Client.Send clips at
// 500 bytes, in the middle of a rune.
func malformedReceiver(t *testing.T) (url string, hits *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	hits = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				hits.Add(1)
				_, _ = c.Write([]byte("HTTP/1.1" + strings.Repeat("é", 600) + "\r\n\r\n"))
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook", hits
}

// TestReceiversMalformedAnswerIsStored: a receiver (any endpoint's host,
// a third party) that answered with a long malformed status line made the
// attempt's error text invalid UTF-8 (clip cut a character in two), which
// PostgreSQL refuses to store: no attempt was ever recorded, the delivery
// stayed pending past its retry window and was sent again at every claim's
// expiry, for ever, with the user's later events held behind it. The text
// is now made valid and cut at a character's start.
func TestReceiversMalformedAnswerIsStored(t *testing.T) {
	db := storetest.Postgres(t)
	clk := &clock{now: time.Now().UTC()}
	svc := webhook.NewService(testDeps(t, db.Webhooks(), clk), webhook.Config{AllowPrivate: true, RetryFor: time.Hour})
	url, hits := malformedReceiver(t)
	e, _, err := svc.Create(t.Context(), admin, webhook.NewEndpoint{URL: url, Types: []string{webhook.AllTypes}})
	if err != nil {
		t.Fatal(err)
	}
	first := event(catalogue.UserCreated, 1)
	if err := svc.Deliver(t.Context(), first); err != nil {
		t.Errorf("Deliver: %v (the receiver's answer broke the storage of the attempt)", err)
	}
	// The user's next event, to the same endpoint, waits behind the first.
	second := event(catalogue.UserUpdated, 2)
	second.Subject = first.Subject
	if err := svc.Deliver(t.Context(), second); err != nil {
		t.Errorf("Deliver second: %v", err)
	}
	// Well past the retry window: the delivery should have failed for good.
	for range 10 {
		clk.Add(30 * time.Minute)
		if _, err := svc.RunDue(t.Context()); err != nil {
			t.Logf("RunDue: %v", err)
		}
	}
	ds, err := svc.Deliveries(t.Context(), admin, e.ID, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries = %v, %v", ds, err)
	}
	d, later := ds[1], ds[0] // newest first
	if later.State == webhook.Pending {
		t.Errorf("the user's next event is still %s (held: %v, %d attempts) long after its retry window: held behind the wedged one for ever",
			later.State, later.Held, len(later.Attempts))
	}
	if d.State != webhook.Failed || len(d.Attempts) == 0 {
		t.Errorf("after the retry window the delivery is %s with %d attempts recorded (receiver hit %d times), want failed with its attempts",
			d.State, len(d.Attempts), hits.Load())
	}
}
