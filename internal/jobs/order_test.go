package jobs_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// slowFirst is a Sink that holds the delivery of each subject's first event
// until the second arrives or hold has passed, and records when each
// delivery starts and ends.
type slowFirst struct {
	hold    time.Duration
	mu      sync.Mutex
	log     []string
	once    sync.Once
	second  chan struct{}
	arrived chan event.Event
}

func (s *slowFirst) Deliver(ctx context.Context, e event.Event) error {
	s.note(fmt.Sprintf("start %d", e.Seq))
	defer s.note(fmt.Sprintf("end %d", e.Seq))
	if e.Seq == 2 {
		s.once.Do(func() { close(s.second) })
	}
	if e.Seq == 1 {
		select {
		case <-s.second:
		case <-time.After(s.hold):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.arrived <- e
	return nil
}

func (s *slowFirst) note(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, what)
}

// TestEventsOfAUserReachASinkInOrder: the queue runs several jobs at once,
// so the delivery of a user's second event could start while the first is
// still being handed over (a slow receiver, a retry). A sink must get each
// user's events in seq order all the same: the second waits for the
// first. (Without that, issue 20's bench saw webhooks of an account's
// profile update arrive before its session.created.)
func TestEventsOfAUserReachASinkInOrder(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			sink := &slowFirst{hold: time.Second, second: make(chan struct{}), arrived: make(chan event.Event, 16)}
			q, st := d.open(t)(t, config(t, usertest.NewMailbox(), sink))
			start(t, q)
			svc := service(t, st)
			u, err := svc.Register(t.Context(), ada)
			if err != nil {
				t.Fatal(err)
			}
			name := "Ada Lovelace"
			if _, err := svc.Update(t.Context(), user.Caller{User: u}, user.Patch{FullName: &name}, ""); err != nil {
				t.Fatal(err)
			}
			for seen := map[int64]bool{}; len(seen) < 2; {
				select {
				case e := <-sink.arrived:
					seen[e.Seq] = true
				case <-time.After(20 * time.Second):
					t.Fatal("the events did not both arrive")
				}
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			// Each event may be handed over more than once (the second's
			// delivery hands the first over itself), but the second never
			// before the first has been taken.
			first := slices.Index(sink.log, "end 1")
			second := slices.Index(sink.log, "start 2")
			if first < 0 || second < first {
				t.Errorf("the sink saw %q: the second event must wait until the first is delivered", sink.log)
			}
		})
	}
}
