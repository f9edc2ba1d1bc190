package sqlite_test

import (
	"testing"

	"github.com/usersvc/usersvc/internal/storetest"
)

// TestRetentionLock: of two processes on one database only one holds the
// retention lock; once released, the other may take it.
func TestRetentionLock(t *testing.T) {
	db := storetest.SQLite(t)
	a, b := db.Purge(), db.Purge()
	release, ok, err := a.TryLock(t.Context())
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v; want it taken", ok, err)
	}
	if _, ok, err := b.TryLock(t.Context()); err != nil || ok {
		t.Errorf("second TryLock while held = %v, %v; want false, nil", ok, err)
	}
	release()
	release2, ok, err := b.TryLock(t.Context())
	if err != nil || !ok {
		t.Fatalf("TryLock after release = %v, %v; want it taken", ok, err)
	}
	release2()
}
