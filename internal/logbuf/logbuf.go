// Package logbuf takes log output off the request path. Write copies a
// line into a buffer and returns; one goroutine writes what has gathered
// to the underlying writer, so that lines logged close together leave in
// one system call instead of one each (under load, one per request). After
// each write the goroutine lets lines gather for Pause, so a line waits at
// most that long, and a busy server writes its log some 100 times a second
// whatever its request rate.
//
// Nothing is dropped: once MaxPending bytes wait, Write waits for the
// goroutine to catch up. Close writes what is left; lines written after
// Close go straight through. What a crash of the process leaves in the
// buffer (the lines of the last moments, not yet written) is lost.
// Why it is worth its complexity: docs/benchmarks.md, the third session's
// read profile, where one write(2) per request was the largest system-call
// cost of an authenticated read.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// MaxPending is how many bytes may wait before Write blocks.
const MaxPending = 256 << 10

// Pause is how long the goroutine lets lines gather after writing some.
const Pause = 10 * time.Millisecond

// Writer is an io.Writer whose writes reach out in the background, in
// order. It is safe for concurrent use.
type Writer struct {
	out     io.Writer
	wake    chan struct{} // a write is waiting; closed by Close
	closing chan struct{} // closed by Close, ending a pause
	done    chan struct{} // closed when the goroutine has written everything

	mu      sync.Mutex
	room    *sync.Cond // signalled when pending has been taken
	pending []byte
	closed  bool
	err     error // the first error of out
}

// New returns a Writer to out and starts its goroutine; call Close when
// done.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	w.room = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// Write queues a copy of p and returns len(p). It returns an error only
// after Close, when p is written directly and out fails.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.pending) >= MaxPending && !w.closed {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		<-w.done // after what was pending at Close, not before it
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // the goroutine is already due to look
	}
	return len(p), nil
}

// run writes what is pending each time it is woken, pausing after each
// write (but not once Close is called), and once more at Close.
func (w *Writer) run() {
	defer close(w.done)
	var spare []byte
	pause := time.NewTimer(Pause)
	pause.Stop()
	for range w.wake {
		spare = w.flush(spare)
		pause.Reset(Pause)
		select {
		case <-pause.C:
		case <-w.closing:
			pause.Stop()
		}
	}
	w.flush(spare)
}

// flush writes the pending bytes, handing spare (an empty buffer) to the
// writers meanwhile, and returns the written buffer for the next round.
func (w *Writer) flush(spare []byte) []byte {
	w.mu.Lock()
	batch := w.pending
	w.pending = spare[:0]
	w.room.Broadcast()
	w.mu.Unlock()
	if len(batch) == 0 {
		return batch
	}
	if _, err := w.out.Write(batch); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	if cap(batch) > 4*MaxPending { // a burst of huge lines: do not keep the memory
		return nil
	}
	return batch
}

// Close writes what is pending and returns the first error out gave.
// Later writes go straight to out. Close may be called more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.closing)
		close(w.wake)
	}
	w.room.Broadcast()
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
