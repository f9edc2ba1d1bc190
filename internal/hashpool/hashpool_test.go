package hashpool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/hashpool"
	"github.com/usersvc/usersvc/internal/user"
)

func TestPoolBoundsConcurrencyAndQueue(t *testing.T) {
	p, err := hashpool.New(2, 1, time.Hour)
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
	waitFor(t, func() bool { return p.Stats().Waiting == 1 })
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
	p, _ := hashpool.New(1, 5, 20*time.Millisecond)
	release, err := p.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	start := time.Now()
	if _, err := p.Acquire(t.Context()); !errors.Is(err, user.ErrBusy) {
		t.Errorf("Acquire past maxWait: error = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("gave up after %s, want after maxWait (20ms)", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, user.ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context: error = %v, want ErrBusy and Canceled", err)
	}
}

func TestNewRefusesNonsense(t *testing.T) {
	for _, c := range [][3]int{{0, 1, 1}, {1, -1, 1}, {1, 1, 0}} {
		if _, err := hashpool.New(c[0], c[1], time.Duration(c[2])); err == nil {
			t.Errorf("New(%v) error = nil", c)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
