package hashpool_test

import (
	"sync"
	"testing"

	"github.com/usersvc/usersvc/internal/hashpool"
)

func TestRoomHoldsSizeAndRefusesTheRestAtOnce(t *testing.T) {
	r, err := hashpool.NewRoom(2)
	if err != nil {
		t.Fatal(err)
	}
	leave1, ok1 := r.Enter()
	leave2, ok2 := r.Enter()
	if !ok1 || !ok2 {
		t.Fatalf("first two Enter: ok = %v, %v; want both in", ok1, ok2)
	}
	if _, ok := r.Enter(); ok {
		t.Error("third Enter into a room of 2: ok = true, want refused")
	}
	leave1()
	leave3, ok := r.Enter()
	if !ok {
		t.Fatal("Enter after a place was given back: refused")
	}
	leave2()
	leave3()
	if s := r.Stats(); s != (hashpool.RoomStats{In: 0, Size: 2, Refused: 1}) {
		t.Errorf("Stats = %+v, want empty room of 2, 1 refused", s)
	}
}

// TestRoomNeverHoldsMoreThanSize: however many enter at once, at most size
// are in, and every place comes back.
func TestRoomNeverHoldsMoreThanSize(t *testing.T) {
	const size, callers = 3, 64
	r, _ := hashpool.NewRoom(size)
	var mu sync.Mutex
	in, most := 0, 0
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			leave, ok := r.Enter()
			if !ok {
				return
			}
			mu.Lock()
			in++
			most = max(most, in)
			mu.Unlock()
			mu.Lock()
			in--
			mu.Unlock()
			leave()
		})
	}
	wg.Wait()
	if most > size {
		t.Errorf("%d in the room at once, want at most %d", most, size)
	}
	if s := r.Stats(); s.In != 0 {
		t.Errorf("Stats = %+v, want an empty room once everyone left", s)
	}
}

func TestNewRoomRefusesNoPlaces(t *testing.T) {
	if _, err := hashpool.NewRoom(0); err == nil {
		t.Error("NewRoom(0) error = nil")
	}
}
