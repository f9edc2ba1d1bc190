package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/logbuf"
)

// lockedBuffer is the underlying writer: a buffer that counts the writes
// it gets, and the lines in each.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	lines  []int // by write
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	b.lines = append(b.lines, bytes.Count(p, []byte("\n")))
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gate is an underlying writer that holds every write until opened,
// saying when one has started.
type gate struct {
	lockedBuffer
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 1), open: make(chan struct{})} }

func (g *gate) Write(p []byte) (int, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
	return g.lockedBuffer.Write(p)
}

// TestEveryLineArrivesWholeAndInOrder has writers log at once, first while
// the output is blocked, then while it is free: every line arrives whole
// and in its writer's order, and the lines that gathered while the output
// was blocked leave together.
func TestEveryLineArrivesWholeAndInOrder(t *testing.T) {
	out := newGate()
	w := logbuf.New(out)
	// All the lines fit in MaxPending (some 19 bytes each), so no writer
	// waits for room while the output is blocked.
	const writers, lines = 8, 1500
	var wg, half sync.WaitGroup
	half.Add(writers)
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				if _, err := fmt.Fprintf(w, "writer %d line %d\n", g, i); err != nil {
					t.Error(err)
				}
				if i == lines/2-1 {
					half.Done()
				}
			}
		})
	}
	<-out.entered // the first write is held...
	half.Wait()   // ...while every writer writes half its lines
	close(out.open)
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &g, &i); err != nil {
			t.Fatalf("line %q is not a whole line: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: got line %d, want line %d (lost or out of order)", g, i, next[g])
		}
		next[g]++
	}
	if len(got) != writers*lines {
		t.Errorf("got %d lines, want %d", len(got), writers*lines)
	}
	t.Logf("%d lines in %d writes", len(got), out.writes)
	if len(out.lines) < 2 || out.lines[0]+out.lines[1] < writers*lines/2 {
		t.Errorf("lines by write %v: want the first two writes to hold at least the %d lines written while the output was blocked",
			out.lines[:min(2, len(out.lines))], writers*lines/2)
	}
}

func TestWriteReturnsWhileTheOutputIsBlocked(t *testing.T) {
	out := newGate()
	w := logbuf.New(out)
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	<-out.entered // the goroutine is stuck writing "first"
	// A write now must not wait for it (it would hang the test if it did).
	if n, err := w.Write([]byte("second\n")); err != nil || n != len("second\n") {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len("second\n"))
	}
	close(out.open)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "first\nsecond\n" {
		t.Errorf("output %q, want %q", got, "first\nsecond\n")
	}
}

func TestNothingIsDroppedWhenTheBufferIsFull(t *testing.T) {
	out := newGate()
	w := logbuf.New(out)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	const n = 3 * logbuf.MaxPending / 1024 // three times what may wait
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for range n {
			if _, err := w.Write(line); err != nil {
				t.Error(err)
			}
		}
	}()
	<-out.entered
	close(out.open)
	<-wrote
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(out.String()), n*len(line); got != want {
		t.Errorf("got %d bytes, want %d", got, want)
	}
}

func TestCloseWritesWhatIsLeftAndLaterWritesGoStraightThrough(t *testing.T) {
	out := &lockedBuffer{}
	w := logbuf.New(out)
	for i := range 100 {
		fmt.Fprintf(w, "%d\n", i)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "%d\n", i)
	}
	if got := out.String(); got != want.String() {
		t.Fatalf("after Close: output %q, want every line written before it", got)
	}
	if _, err := w.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "99\nafter\n") {
		t.Errorf("a write after Close did not reach the output at once: %q", got[max(0, len(got)-20):])
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

type failing struct{}

var errFull = errors.New("disk full")

func (failing) Write([]byte) (int, error) { return 0, errFull }

func TestCloseReportsTheOutputsError(t *testing.T) {
	w := logbuf.New(failing{})
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatalf("Write before Close: %v, want nil (the error comes at Close)", err)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Errorf("Close = %v, want %v", err, errFull)
	}
}

func TestLinesWrittenMeanwhileLeaveInOneWrite(t *testing.T) {
	out := newGate()
	w := logbuf.New(out)
	fmt.Fprintln(w, "first")
	<-out.entered // "first" is being written; what follows must wait for it
	for i := range 99 {
		fmt.Fprintln(w, i)
	}
	close(out.open)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.writes != 2 {
		t.Errorf("100 lines took %d writes, want 2 (the first line, then the 99 that gathered meanwhile)", out.writes)
	}
}
