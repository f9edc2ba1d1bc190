// Package hashpool bounds how many password hashes run at once. Hashing is
// deliberately slow and CPU-bound: without a bound, a flood of logins takes
// every CPU and every other request waits behind it. With one, at most N
// hashes run, a bounded number of requests queue for a slot, and the rest
// are turned away at once (user.ErrBusy, a 503) instead of piling up.
package hashpool

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/usersvc/usersvc/internal/user"
)

// Pool is a counting semaphore with a bounded, time-limited queue. It
// implements user.HashGate.
type Pool struct {
	slots    chan struct{}
	maxQueue int64
	maxWait  time.Duration
	after    func(time.Duration) <-chan time.Time // times a queued caller's wait
	waiting  atomic.Int64
	rejected atomic.Int64
}

var _ user.HashGate = (*Pool)(nil)

// Option tunes a Pool.
type Option func(*Pool)

// WithTimer times a queued caller's wait with after instead of time.After:
// after(maxWait) is called once the caller is in the queue, and the wait
// ends when its channel receives. Tests use it to end waits when they
// choose, with no real time passing.
func WithTimer(after func(time.Duration) <-chan time.Time) Option {
	return func(p *Pool) { p.after = after }
}

// New returns a pool of concurrency slots where at most queue callers wait,
// each for at most maxWait.
func New(concurrency, queue int, maxWait time.Duration, opts ...Option) (*Pool, error) {
	if concurrency < 1 || queue < 0 || maxWait <= 0 {
		return nil, fmt.Errorf("hashpool: need concurrency >= 1, queue >= 0, maxWait > 0; got %d, %d, %s",
			concurrency, queue, maxWait)
	}
	p := &Pool{slots: make(chan struct{}, concurrency), maxQueue: int64(queue), maxWait: maxWait, after: time.After}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Acquire takes a slot, waiting in the queue when all are busy. It returns
// an error wrapping user.ErrBusy when the queue is full, the wait reaches
// maxWait, or ctx ends first.
func (p *Pool) Acquire(ctx context.Context) (func(), error) {
	select {
	case p.slots <- struct{}{}:
		return p.release, nil
	default:
	}
	if p.waiting.Add(1) > p.maxQueue {
		p.waiting.Add(-1)
		p.rejected.Add(1)
		return nil, fmt.Errorf("%w: hashing queue is full", user.ErrBusy)
	}
	defer p.waiting.Add(-1)
	select {
	case p.slots <- struct{}{}:
		return p.release, nil
	case <-p.after(p.maxWait): // an unfired timer is collected (Go 1.23 timers)
		p.rejected.Add(1)
		return nil, fmt.Errorf("%w: waited %s for a hashing slot", user.ErrBusy, p.maxWait)
	case <-ctx.Done():
		p.rejected.Add(1)
		return nil, fmt.Errorf("%w: %w", user.ErrBusy, ctx.Err())
	}
}

func (p *Pool) release() { <-p.slots }

// Saturated reports whether an Acquire now would be turned away at once:
// every slot busy and the queue full. Callers use it to refuse before
// doing work that only a slot would make worthwhile.
func (p *Pool) Saturated() bool {
	if len(p.slots) < cap(p.slots) || p.waiting.Load() < p.maxQueue {
		return false
	}
	p.rejected.Add(1)
	return true
}

// Stats is the pool's state at one moment.
type Stats struct {
	InUse, Capacity, Waiting, MaxQueue int
	Rejected                           int64 // since start
}

// Stats returns the pool's current state.
func (p *Pool) Stats() Stats {
	return Stats{
		InUse: len(p.slots), Capacity: cap(p.slots),
		Waiting: int(p.waiting.Load()), MaxQueue: int(p.maxQueue),
		Rejected: p.rejected.Load(),
	}
}
