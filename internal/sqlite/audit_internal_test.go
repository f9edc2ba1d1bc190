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
