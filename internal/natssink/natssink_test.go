package natssink_test

import (
	"context"
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
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("NATS at %s: %v", natsURL, err)
		}
		t.Skipf("NATS at %s: %v", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A throwaway stream over a throwaway prefix.
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	stream, prefix := "USERSVC_TEST_"+suffix, "usersvctest"+suffix+".events"
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })

	sink, err := natssink.Open(t.Context(), natssink.Config{URL: natsURL, Stream: stream, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	e := event.Event{ID: uuid.NewString(), Type: event.UserCreated, Time: time.Now().UTC(), Subject: uuid.New(), Seq: 1, Data: []byte(`{"email":"ada@example.com"}`)}
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
