package hashpool

import (
	"fmt"
	"sync/atomic"
)

// Room is the waiting room in front of the logins: at most size requests
// are in it at once, hashing or waiting for a hashing slot, and Enter
// turns the rest away at once. A request in the room costs a parked
// goroutine and its connection; one turned away costs a short answer. So
// a flood of clients that retry without waiting is held in the room
// (waiting, using no CPU) up to its size, and only what is beyond it
// spins on refusals.
type Room struct {
	size    int64
	in      atomic.Int64
	refused atomic.Int64
	leave   func() // made once: a method value would allocate per Enter
}

// NewRoom returns a room of size places.
func NewRoom(size int) (*Room, error) {
	if size < 1 {
		return nil, fmt.Errorf("hashpool: a waiting room needs at least one place, got %d", size)
	}
	r := &Room{size: int64(size)}
	r.leave = func() { r.in.Add(-1) }
	return r, nil
}

// Enter takes a place: ok is false, at once, when every place is taken.
// When ok, leave gives the place back and must be called exactly once.
func (r *Room) Enter() (leave func(), ok bool) {
	if r.in.Add(1) > r.size {
		r.in.Add(-1)
		r.refused.Add(1)
		return nil, false
	}
	return r.leave, true
}

// RoomStats is a room's state at one moment.
type RoomStats struct {
	In, Size int
	Refused  int64 // since start
}

// Stats returns the room's current state.
func (r *Room) Stats() RoomStats {
	return RoomStats{In: int(r.in.Load()), Size: int(r.size), Refused: r.refused.Load()}
}
