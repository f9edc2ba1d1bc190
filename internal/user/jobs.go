package user

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxJobs bounds the background jobs running at once; jobTimeout bounds
// each.
const (
	maxJobs    = 64
	jobTimeout = 30 * time.Second
)

// runner runs a bounded number of jobs in the background. Its zero value
// is ready.
type runner struct {
	mu      sync.Mutex
	closed  bool
	running int
	idle    chan struct{} // closed when running drops to 0; nil while idle
}

// start runs job in a new goroutine with ctx's values but not its
// cancellation (the request it comes from is answered before it ends),
// unless maxJobs are running or the runner is closed.
func (r *runner) start(ctx context.Context, job func(context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.running >= maxJobs {
		return false
	}
	if r.running == 0 {
		r.idle = make(chan struct{})
	}
	r.running++
	go func() {
		defer r.done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
		defer cancel()
		job(ctx)
	}()
	return true
}

func (r *runner) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	if r.running == 0 {
		close(r.idle)
		r.idle = nil
	}
}

func (r *runner) wait(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background work: %w", ctx.Err())
	}
}

func (r *runner) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}
