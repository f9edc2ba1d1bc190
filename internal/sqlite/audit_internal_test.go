package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// TestAuditAppendOnly: the database itself refuses to change or delete an
// audit event, even through the store's own writing connection.
func TestAuditAppendOnly(t *testing.T) {
	s := openMigrated(t)
	audit := s.Stores().Audit
	id := uuid.Must(uuid.NewV7())
	e := user.AuditEvent{At: time.Now().UTC().Truncate(time.Microsecond), Kind: user.AuditRegistered, ActorID: id, SubjectID: id}
	if err := audit.Append(t.Context(), e); err != nil {
		t.Fatalf("Append: %v", err)
	}
	before, err := audit.Events(t.Context(), user.AuditFilter{})
	if err != nil || len(before) != 1 {
		t.Fatalf("Events: got %v, %v; want one event", before, err)
	}
	for _, q := range []string{
		`UPDATE audit_events SET kind = 'user.deleted'`,
		`UPDATE audit_events SET subject_id = NULL WHERE id = 1`,
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE id = 1`,
	} {
		_, err := s.write.ExecContext(t.Context(), q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got error %v, want the append-only refusal", q, err)
		}
	}
	after, err := audit.Events(t.Context(), user.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("events after the refused statements changed (-before +after):\n%s", diff)
	}
}

// TestAuditCorruptRows: rows the store cannot read back (written by hand,
// bypassing Append) give an error, not a wrong event.
func TestAuditCorruptRows(t *testing.T) {
	for _, tt := range []struct{ name, insert string }{
		{"bad time", `INSERT INTO audit_events (at, kind) VALUES ('yesterday', 'user.deleted')`},
		{"bad actor", `INSERT INTO audit_events (at, kind, actor_id) VALUES ('2026-01-01T00:00:00.000000Z', 'user.deleted', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz')`},
		{"bad subject", `INSERT INTO audit_events (at, kind, subject_id) VALUES ('2026-01-01T00:00:00.000000Z', 'user.deleted', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz')`},
		{"detail not strings", `INSERT INTO audit_events (at, kind, detail) VALUES ('2026-01-01T00:00:00.000000Z', 'user.deleted', '{"n": 1}')`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openMigrated(t)
			if _, err := s.write.ExecContext(t.Context(), tt.insert); err != nil {
				t.Fatalf("insert: %v", err)
			}
			if got, err := s.Stores().Audit.Events(t.Context(), user.AuditFilter{}); err == nil {
				t.Errorf("Events over a corrupt row: got %+v, nil; want an error", got)
			}
		})
	}
}

// TestAuditPruneIsTheOnlyWayOut: after a prune the append-only refusal
// is back (no permit is left), and a permit lets through only the events
// older than its own date.
func TestAuditPruneIsTheOnlyWayOut(t *testing.T) {
	s := openMigrated(t)
	st := s.Stores()
	old := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Microsecond)
	for _, at := range []time.Time{old, old.Add(24 * time.Hour), time.Now().UTC().Truncate(time.Microsecond)} {
		if err := st.Audit.Append(t.Context(), user.AuditEvent{At: at, Kind: user.AuditRegistered}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Retention.PruneBefore(t.Context(), old.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneBefore = %d, %v; want 1, nil", n, err)
	}
	var permits int
	if err := s.write.QueryRowContext(t.Context(), `SELECT count(*) FROM audit_prune_permits`).Scan(&permits); err != nil || permits != 0 {
		t.Errorf("permits left after a prune: %d, %v; want 0", permits, err)
	}
	if _, err := s.write.ExecContext(t.Context(), `DELETE FROM audit_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE after a prune: got error %v, want the append-only refusal", err)
	}
	tx, err := s.write.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(t.Context(), `INSERT INTO audit_prune_permits (before) VALUES (?)`, ts(old.Add(25*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), `DELETE FROM audit_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE of every event under a permit for older ones: got error %v, want the append-only refusal", err)
	}
}
