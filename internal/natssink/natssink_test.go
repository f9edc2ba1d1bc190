package natssink_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/natssink"
)

// natsURL is the local NATS server with JetStream (.ci/run starts it);
// outside CI a test skips when it is down.
const natsURL = "nats://127.0.0.1:4222"

// TestPublishesEachEventOncePerID: an event delivered twice (a retried
// job) is in the stream once, on usersvc's subject for its type, as
// JSON with its id and sequence number.
func TestPublishesEachEventOncePerID(t *testing.T) {
	js := jetStream(t)
	stream, prefix := throwaway(t, js)
	sink := openSink(t, stream, prefix)
	e := newEvent()
	other := e
	other.ID, other.Type, other.Seq = uuid.NewString(), event.UserDeleted, 2
	for _, ev := range []event.Event{e, e, other, e} {
		if err := sink.Deliver(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (one per event id)", info.State.Msgs)
	}
	msg, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != prefix+".user.created" || msg.Header.Get(jetstream.MsgIDHeader) != e.ID {
		t.Errorf("first message: subject %s, id %s; want %s.user.created, %s", msg.Subject, msg.Header.Get(jetstream.MsgIDHeader), prefix, e.ID)
	}
	if !strings.Contains(string(msg.Data), `"seq":1`) || !strings.Contains(string(msg.Data), e.ID) {
		t.Errorf("first message body: %s", msg.Data)
	}
}

// A server that is not there fails Open, saying so: the service does not
// start with an events sink it cannot reach.
func TestOpenFailsWithoutTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a loopback port, then closed: nobody listens there
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if _, err := natssink.Open(t.Context(), natssink.Config{URL: "nats://" + addr, Stream: "USERSVC_TEST_NONE"}); err == nil || !strings.Contains(err.Error(), "nats: connect") {
		t.Fatalf("Open of a server that is not there: error %v, want the failed connect", err)
	}
}

// A stream of another name over the same subjects cannot be created (the
// events would go to it): Open fails, naming the stream, rather than
// publish into a stream usersvc was not told of.
func TestOpenFailsWhenAnotherStreamHoldsTheSubjects(t *testing.T) {
	js := jetStream(t)
	stream, prefix := throwaway(t, js)
	openSink(t, stream, prefix)
	openSink(t, stream, prefix) // the stream exists: it is used
	other := stream + "_OTHER"
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), other) })
	_, err := natssink.Open(t.Context(), natssink.Config{URL: natsURL, Stream: other, Prefix: prefix})
	if err == nil || !strings.Contains(err.Error(), "create stream "+other) {
		t.Fatalf("Open of a second stream over the same subjects: error %v, want its creation refused", err)
	}
}

// A publish JetStream does not acknowledge (here the stream was deleted
// under the sink) is an error, so that the job queue tries it again,
// never a delivery counted as done.
func TestUnacknowledgedPublishIsAnError(t *testing.T) {
	js := jetStream(t)
	stream, prefix := throwaway(t, js)
	sink := openSink(t, stream, prefix)
	if err := js.DeleteStream(t.Context(), stream); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := sink.Deliver(ctx, newEvent()); err == nil || !strings.Contains(err.Error(), "nats: publish user.created") {
		t.Fatalf("Deliver with no stream to take it: error %v, want the publish's failure", err)
	}
}

// openSink opens the sink of stream over prefix, closed when the test
// ends.
func openSink(t *testing.T, stream, prefix string) *natssink.Sink {
	t.Helper()
	sink, err := natssink.Open(t.Context(), natssink.Config{URL: natsURL, Stream: stream, Prefix: prefix})
	if err != nil {
		t.Fatalf("Open of stream %s: %v", stream, err)
	}
	t.Cleanup(sink.Close)
	return sink
}

// jetStream connects to the local NATS server: a test fails without it
// in CI and skips outside.
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("NATS at %s: %v", natsURL, err)
		}
		t.Skipf("NATS at %s: %v", natsURL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// throwaway names a stream and a subject prefix of the test's own
// (the server is shared), the stream deleted when the test ends.
func throwaway(t *testing.T, js jetstream.JetStream) (stream, prefix string) {
	t.Helper()
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	stream, prefix = "USERSVC_TEST_"+suffix, "usersvctest"+suffix+".events"
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	return stream, prefix
}

// newEvent is a user.created event with a new id.
func newEvent() event.Event {
	return event.Event{ID: uuid.NewString(), Type: event.UserCreated, Time: time.Now().UTC(), Subject: uuid.New(), Seq: 1, Data: []byte(`{"email":"ada@example.com"}`)}
}

// A stream of the configured name that exists but does not take every
// event's subject (an operator's, created over other subjects, or over
// some types only) fails Open, naming the stream and a subject it would
// miss: every publish to it would fail, retried for days and then
// discarded, while the service looked healthy.
func TestOpenFailsWhenTheStreamMissesSubjects(t *testing.T) {
	js := jetStream(t)
	stream, prefix := throwaway(t, js)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".user.*"}}); err != nil {
		t.Fatal(err)
	}
	_, err := natssink.Open(t.Context(), natssink.Config{URL: natsURL, Stream: stream, Prefix: prefix})
	if err == nil || !strings.Contains(err.Error(), stream) || !strings.Contains(err.Error(), prefix+"."+event.SessionCreated) {
		t.Fatalf("Open of a stream over %s.user.* only: error %v, want it refused naming %s.%s", prefix, err, prefix, event.SessionCreated)
	}
	// A stream over everything takes them all.
	if _, err := js.UpdateStream(t.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	openSink(t, stream, prefix)
}

// An event's time goes out in UTC, as the catalogue says and webhooks
// send it, whatever the zone of the clock that stamped it (the service's
// is the machine's local time).
func TestPublishesTheTimeInUTC(t *testing.T) {
	js := jetStream(t)
	stream, prefix := throwaway(t, js)
	sink := openSink(t, stream, prefix)
	e := newEvent()
	e.Time = time.Date(2026, 12, 7, 8, 30, 0, 0, time.FixedZone("CET", 3600))
	if err := sink.Deliver(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Data), `"time":"2026-12-07T07:30:00Z"`) {
		t.Errorf("published %s, want the time 2026-12-07T07:30:00Z", msg.Data)
	}
}
