package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// lockFile takes the write lock of s's file from a connection of its own,
// as another process would (BEGIN EXCLUSIVE), and returns that connection;
// closed, with its pool, when the test ends.
func lockFile(t *testing.T, s *DB) *sql.Conn {
	t.Helper()
	other, err := sql.Open("sqlite", dsn(s.path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	return conn
}

// TestLockedDatabaseIsUnavailable holds the write lock from another
// connection past the busy timeout: a write must fail with ErrUnavailable
// (which the HTTP layer answers 503) within the busy timeout, reads must go
// on (WAL), and writes must work again once the lock is released.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	conn := lockFile(t, s)
	newUser := func(name string) user.User {
		return user.User{ID: uuid.New(), Email: name + "@example.com", Username: name, PasswordHash: "x"}
	}
	users := s.Stores().Users
	start := time.Now()
	_, err := users.Create(ctx, newUser("locked"))
	if !errors.Is(err, user.ErrUnavailable) {
		t.Fatalf("Create on a locked database = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("Create on a locked database took %v, want about the 5 s busy timeout", took)
	}
	if _, err := users.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("a read while locked = %v, want ErrNotFound (readers go on in WAL mode)", err)
	}
	ran := false
	err = s.Stores().Tx.Atomic(ctx, func(user.Stores) error { ran = true; return nil })
	if !errors.Is(err, user.ErrUnavailable) || ran {
		t.Errorf("Atomic on a locked database = %v, fn ran: %v; want ErrUnavailable, fn not run", err, ran)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Create(ctx, newUser("unlocked")); err != nil {
		t.Fatalf("Create once the lock is released = %v, want nil", err)
	}
}

// TestTransactionQueuedBehindALockFailsWithinWriteWait holds the write
// lock from another connection while a transaction waits for the writer
// connection, busy with another write, for most of writeWait. The
// transaction must fail within writeWait of its start: its BEGIN, once it
// has the connection, waits for the lock only until then, not a busy
// timeout of its own (under load a request queued behind a locked file
// answered 503 after 10 s instead of 5).
func TestTransactionQueuedBehindALockFailsWithinWriteWait(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	lock := lockFile(t, s)
	defer func() { _, _ = lock.ExecContext(context.Background(), "ROLLBACK") }()
	busy, err := s.write.Conn(ctx) // the writer's only connection, as a write under way holds it
	if err != nil {
		t.Fatal(err)
	}
	held := writeWait * 3 / 5 // the scenario: the connection comes free with 2 s of writeWait left
	release := time.AfterFunc(held, func() { _ = busy.Close() })
	defer release.Stop()
	start := time.Now()
	err = s.Stores().Tx.Atomic(ctx, func(user.Stores) error { return nil })
	took := time.Since(start)
	if !errors.Is(err, user.ErrUnavailable) {
		t.Errorf("Atomic on a locked database = %v, want ErrUnavailable", err)
	}
	if took < held || took > writeWait+time.Second {
		t.Errorf("Atomic on a locked database took %v, want between %v (the connection was busy) and writeWait (%v)", took.Round(time.Millisecond), held, writeWait)
	}
}

func TestUnavailableCodes(t *testing.T) {
	for code, want := range map[int]bool{5: true, 6: true, 8: true, 10: true, 13: true, 14: true, 5 | 2<<8: true,
		19: false, 1: false, 2067: false} {
		if got := unavailable(code); got != want {
			t.Errorf("unavailable(%d) = %v, want %v", code, got, want)
		}
	}
}

// TestReadOnlyDatabaseIsUnavailable writes through a connection that can
// only read the file, as when the file or its disk turns read-only (file
// modes cannot show it: tests run as root, which ignores them): the write
// is ErrUnavailable, answered 503, not a 500.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ro, err := openPool(t.Context(), dsn(s.path, "mode", "ro"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	readOnly := (&DB{path: s.path, write: ro, read: s.read}).Stores().Users
	_, err = readOnly.Create(t.Context(), user.User{ID: uuid.New(), Email: "ro@example.com", Username: "ro", PasswordHash: "x"})
	if !errors.Is(err, user.ErrUnavailable) {
		t.Fatalf("Create on a read-only database = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "readonly") {
		t.Errorf("Create on a read-only database = %v, want SQLite's read-only error", err)
	}
}

// TestBeginByGivesUpAtTheDeadline: a BEGIN that waits for a locked file
// gives up at its deadline, not at SQLite's busy timeout, and begins no
// transaction (ErrUnavailable once translated); one on a connection that
// is gone says so.
func TestBeginByGivesUpAtTheDeadline(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	c, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lock := lockFile(t, s)
	start := time.Now()
	tx, end, err := beginBy(ctx, c, start.Add(100*time.Millisecond))
	if took := time.Since(start); took > writeWait/2 {
		t.Errorf("beginBy on a locked file took %v, want about its 100 ms deadline, not the busy timeout", took.Round(time.Millisecond))
	}
	if tx != nil || end != nil || !errors.Is(translate(err, "begin"), user.ErrUnavailable) {
		t.Errorf("beginBy on a locked file past its deadline = %v, %v; want no transaction and ErrUnavailable", tx, err)
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	tx, end, err = beginBy(ctx, c, time.Now().Add(writeWait))
	if err != nil {
		t.Fatalf("beginBy once the lock is released: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	end()
	_ = c.Close()
	if tx, _, err := beginBy(ctx, c, time.Now().Add(writeWait)); tx != nil || !errors.Is(err, sql.ErrConnDone) {
		t.Errorf("beginBy on a closed connection = %v, %v; want sql.ErrConnDone", tx, err)
	}
}

// TestAppliedMigrationsLeaveOutTheUndone: a version goose recorded as
// undone (is_applied false, as an older goose's down did) is not
// applied, and goose's own version 0 is never listed.
func TestAppliedMigrationsLeaveOutTheUndone(t *testing.T) {
	t.Parallel()
	s := openMigrated(t)
	ctx := t.Context()
	if _, err := s.write.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (35, 0)`); err != nil {
		t.Fatal(err)
	}
	applied, err := s.AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := applied[35]; ok {
		t.Error("version 35, recorded as undone after it was applied, is listed as applied")
	}
	if _, ok := applied[1]; !ok {
		t.Error("version 1 is not listed as applied")
	}
	if _, ok := applied[0]; ok {
		t.Error("goose's own version 0 is listed")
	}
}
