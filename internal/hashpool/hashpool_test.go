package hashpool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/hashpool"
	"github.com/usersvc/usersvc/internal/user"
)

// queuedSignal is a timer that never fires and says on queued when a caller
// has joined the queue (the pool starts the timer once it has).
func queuedSignal(queued chan<- struct{}) hashpool.Option {
	return hashpool.WithTimer(func(time.Duration) <-chan time.Time {
		queued <- struct{}{}
		return nil
	})
}

func TestPoolBoundsConcurrencyAndQueue(t *testing.T) {
	queued := make(chan struct{}, 1)
	p, err := hashpool.New(2, 1, time.Hour, queuedSignal(queued))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r1, err1 := p.Acquire(ctx)
	r2, err2 := p.Acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("first two Acquire: %v, %v", err1, err2)
	}
	got := make(chan error, 1)
	go func() { // queues: the one place in the queue
		r, err := p.Acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	<-queued
	if !p.Saturated() {
		t.Error("Saturated() = false with every slot and the queue taken")
	}
	if _, err := p.Acquire(ctx); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Acquire with the queue full: error = %v, want ErrBusy", err)
	}
	r1()
	if err := <-got; err != nil {
		t.Errorf("queued Acquire: error = %v, want a slot once one frees", err)
	}
	r2()
	if p.Saturated() {
		t.Error("Saturated() = true with free slots")
	}
	s := p.Stats()
	if s.InUse != 0 || s.Capacity != 2 || s.Waiting != 0 || s.MaxQueue != 1 || s.Rejected != 2 {
		t.Errorf("Stats = %+v, want 0 in use of 2, none waiting, queue 1, 2 rejected", s)
	}
}

func TestPoolGivesUpAfterMaxWaitOrCancel(t *testing.T) {
	const maxWait = 20 * time.Millisecond
	var timed []time.Duration
	expired := make(chan time.Time, 1)
	p, _ := hashpool.New(1, 5, maxWait, hashpool.WithTimer(func(d time.Duration) <-chan time.Time {
		timed = append(timed, d)
		return expired
	}))
	release, err := p.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	expired <- time.Time{} // the next wait is over as soon as it starts
	if _, err := p.Acquire(t.Context()); !errors.Is(err, user.ErrBusy) || !strings.Contains(err.Error(), "waited 20ms") {
		t.Errorf("Acquire past maxWait: error = %v, want ErrBusy after waiting 20ms", err)
	}
	if len(timed) != 1 || timed[0] != maxWait {
		t.Errorf("waits timed: %v, want one of maxWait (%v)", timed, maxWait)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, user.ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context: error = %v, want ErrBusy and Canceled", err)
	}
	if s := p.Stats(); s.Waiting != 0 || s.Rejected != 2 {
		t.Errorf("Stats = %+v, want none waiting and 2 rejected", s)
	}
}

// TestPoolTimesWaitsWithARealTimerByDefault: without WithTimer, a wait
// ends after maxWait of real time, never before.
func TestPoolTimesWaitsWithARealTimerByDefault(t *testing.T) {
	const maxWait = time.Millisecond
	p, _ := hashpool.New(1, 1, maxWait)
	release, err := p.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	start := time.Now()
	if _, err := p.Acquire(t.Context()); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Acquire past maxWait: error = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < maxWait {
		t.Errorf("gave up after %s, want after maxWait (%s)", d, maxWait)
	}
}

func TestNewRefusesNonsense(t *testing.T) {
	for _, c := range [][3]int{{0, 1, 1}, {1, -1, 1}, {1, 1, 0}} {
		if _, err := hashpool.New(c[0], c[1], time.Duration(c[2])); err == nil {
			t.Errorf("New(%v) error = nil", c)
		}
	}
}
