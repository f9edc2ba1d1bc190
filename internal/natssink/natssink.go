// Package natssink publishes usersvc's events to NATS JetStream: each
// event once per id on subject <prefix>.<type> (usersvc.events.user.created),
// with the event id as Nats-Msg-Id so that JetStream drops a redelivery
// within the stream's duplicate window. It is a jobs.Sink: the job queue
// retries a failed publish with backoff.
package natssink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/usersvc/usersvc/internal/event"
)

// DefaultPrefix starts every subject.
const DefaultPrefix = "usersvc.events"

// duplicateWindow is how long JetStream remembers a message id, in a
// stream this package creates: a retry within it is dropped as a
// duplicate. The queue retries a failed publish within minutes.
const duplicateWindow = time.Hour

// Config says where events go.
type Config struct {
	URL string // nats://host:4222
	// Stream is the JetStream stream, created over Prefix.> when missing.
	Stream string
	// Prefix starts each subject; empty: DefaultPrefix.
	Prefix string
}

// Sink publishes events to JetStream. Close it when done.
type Sink struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
}

// Open connects to c.URL and makes sure the stream exists.
func Open(ctx context.Context, c Config) (*Sink, error) {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	nc, err := nats.Connect(c.URL, nats.Name("usersvc"), nats.MaxReconnects(-1), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	if err := ensureStream(ctx, js, c); err != nil {
		nc.Close()
		return nil, err
	}
	return &Sink{nc: nc, js: js, prefix: c.Prefix}, nil
}

// ensureStream makes sure c.Stream exists (created over c.Prefix.> when
// missing) and takes the subject of every event type: a stream that
// misses one would refuse its every publish, retried for days and then
// discarded, while the service looked healthy.
func ensureStream(ctx context.Context, js jetstream.JetStream, c Config) error {
	stream, err := js.Stream(ctx, c.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name: c.Stream, Subjects: []string{c.Prefix + ".>"}, Duplicates: duplicateWindow,
		})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("nats: create stream %s: %w", c.Stream, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", c.Stream, err)
	}
	subjects := stream.CachedInfo().Config.Subjects
	for _, t := range event.Types {
		if subject := c.Prefix + "." + t.Name; !slices.ContainsFunc(subjects, func(p string) bool { return matches(p, subject) }) {
			return fmt.Errorf("nats: stream %s (subjects %s) does not take %s: add %s.> to its subjects", c.Stream, strings.Join(subjects, " "), subject, c.Prefix)
		}
	}
	return nil
}

// matches reports whether subject matches the stream subject pattern,
// with NATS's wildcards: * for one token, > for one or more at the end.
func matches(pattern, subject string) bool {
	ps, ss := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, p := range ps {
		switch {
		case p == ">":
			return len(ss) > i
		case i >= len(ss) || p != "*" && p != ss[i]:
			return false
		}
	}
	return len(ps) == len(ss)
}

// Deliver publishes e, its time in UTC (as the catalogue says, and
// webhooks send it), and waits for JetStream's acknowledgement.
func (s *Sink) Deliver(ctx context.Context, e event.Event) error {
	e.Time = e.Time.UTC()
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.js.Publish(ctx, s.prefix+"."+e.Type, body, jetstream.WithMsgID(e.ID)); err != nil {
		return fmt.Errorf("nats: publish %s: %w", e.Type, err)
	}
	return nil
}

// Close drains and closes the connection.
func (s *Sink) Close() { s.nc.Close() }
