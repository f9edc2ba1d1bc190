package sqlite

import "time"

// TS is how the session and token tables keep t.
func TS(t time.Time) string { return ts(t) }
