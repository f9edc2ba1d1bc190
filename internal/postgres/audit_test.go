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

// TestAuditPruneIsTheOnlyWayOut: audit_events_prune leaves no permission
// behind in its session or transaction, and the setting it uses lets
// through only the events older than its own cutoff.
func TestAuditPruneIsTheOnlyWayOut(t *testing.T) {
	const insufficientPrivilege = "42501"
	db := storetest.Postgres(t)
	st := db.Stores()
	old := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Microsecond)
	for _, at := range []time.Time{old, old.Add(24 * time.Hour), time.Now().UTC().Truncate(time.Microsecond)} {
		if err := st.Audit.Append(t.Context(), user.AuditEvent{At: at, Kind: user.AuditRegistered}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(t.Context()) }()
	var n int64
	if err := tx.QueryRow(t.Context(), `SELECT audit_events_prune($1)`, old.Add(time.Hour)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit_events_prune = %d, %v; want 1, nil", n, err)
	}
	refused := func(what string, err error) {
		t.Helper()
		if e, ok := errors.AsType[*pgconn.PgError](err); !ok || e.Code != insufficientPrivilege {
			t.Errorf("%s: got error %v, want the append-only refusal (SQLSTATE %s)", what, err, insufficientPrivilege)
		}
	}
	if _, err := tx.Exec(t.Context(), `SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(t.Context(), `DELETE FROM audit_events`)
	refused("DELETE after audit_events_prune in the same transaction", err)
	if _, err := tx.Exec(t.Context(), `ROLLBACK TO s`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT set_config('usersvc.audit_prune_before', $1, true)`, old.Add(25*time.Hour).Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(t.Context(), `DELETE FROM audit_events`)
	refused("DELETE of every event with the setting for older ones", err)
}
