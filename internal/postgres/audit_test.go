package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

// TestAuditAppendOnly: the database itself refuses to change, delete or
// truncate audit events, even through the store's own pool.
func TestAuditAppendOnly(t *testing.T) {
	const insufficientPrivilege = "42501"
	db := storetest.Postgres(t)
	audit := db.Stores().Audit
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
		`TRUNCATE audit_events`,
	} {
		_, err := db.Pool().Exec(t.Context(), q)
		if e, ok := errors.AsType[*pgconn.PgError](err); !ok || e.Code != insufficientPrivilege {
			t.Errorf("%s: got error %v, want the append-only refusal (SQLSTATE %s)", q, err, insufficientPrivilege)
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
