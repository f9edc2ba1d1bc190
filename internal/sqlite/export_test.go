package sqlite

import (
	"database/sql"
	"time"
)

// Writer lets the external tests write rows as another release would.
func (s *DB) Writer() *sql.DB { return s.write }

// TS is how the session and token tables keep t.
func TS(t time.Time) string { return ts(t) }
