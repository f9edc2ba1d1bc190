package apptest

import (
	"strings"
	"testing"
	"time"
)

// A test clock keeps wall time alone, as the stores do: clocks set in
// step by the difference between them agree on the wall time even when
// the machine's wall and monotonic clocks drift apart.
func TestClockKeepsWallTimeOnly(t *testing.T) {
	c := NewClock(time.Now())
	c.Advance(time.Minute)
	if s := c.Now().String(); strings.Contains(s, " m=") {
		t.Errorf("clock reads %s, which carries a monotonic reading", s)
	}
}
