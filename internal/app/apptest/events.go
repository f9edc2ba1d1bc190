package apptest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/event"
)

// EventSink records the events delivered to it, for WithEventSink: the
// tests read them from the channel.
type EventSink chan event.Event

// Deliver implements jobs.Sink.
func (s EventSink) Deliver(_ context.Context, e event.Event) error {
	s <- e
	return nil
}

// EventsThrough waits for an account's events from seq 1 up to and
// including its nth event of type marker (numbered in the order of their
// changes, delivered in any order, a repeat counted once), gathered in
// bySeq, and returns them in seq order; the test fails when they do not
// come within 10 s. A marker emitted last thus gathers every event before
// it.
func EventsThrough(t testing.TB, sink EventSink, bySeq map[int64]event.Event, marker string, nth int) []event.Event {
	t.Helper()
	return eventsThrough(t, sink, bySeq, func(event.Event) bool { return true }, marker, nth)
}

// EventsAbout is EventsThrough of the events about the account subject
// alone: those of other accounts (an administrator's) are dropped.
func EventsAbout(t testing.TB, sink EventSink, bySeq map[int64]event.Event, subject uuid.UUID, marker string, nth int) []event.Event {
	t.Helper()
	return eventsThrough(t, sink, bySeq, func(e event.Event) bool { return e.Subject == subject }, marker, nth)
}

// eventsThrough is EventsThrough of the events keep keeps.
func eventsThrough(t testing.TB, sink EventSink, bySeq map[int64]event.Event, keep func(event.Event) bool, marker string, nth int) []event.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		var out []event.Event
		seen := 0
		for seq := int64(1); ; seq++ {
			e, ok := bySeq[seq]
			if !ok {
				break
			}
			out = append(out, e)
			if e.Type == marker {
				seen++
			}
			if seen == nth {
				return out
			}
		}
		select {
		case e := <-sink:
			if keep(e) {
				bySeq[e.Seq] = e
			}
		case <-deadline:
			t.Fatalf("events through the %dth %s: got %d:\n%s", nth, marker, len(bySeq), ListEvents(slices.Collect(maps.Values(bySeq))))
		}
	}
}

// ListEvents is events, one a line: seq, type and data.
func ListEvents(events []event.Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%d %s %s\n", e.Seq, e.Type, e.Data)
	}
	return b.String()
}
