package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/postgres"
	"github.com/usersvc/usersvc/internal/sqlite"
)

// A trigger that refuses some audit events makes the audit write fail
// inside the database, where a change's transaction is: the tests of
// changes audited in their transaction (webhook endpoints, OAuth clients)
// turn it on and off.
const (
	pgRefuseAudit = `
		CREATE FUNCTION refuse_audit_by_test() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
		CREATE TRIGGER refuse_audit_by_test BEFORE INSERT ON audit_events
			FOR EACH ROW WHEN (NEW.kind LIKE '%s%') EXECUTE FUNCTION refuse_audit_by_test()`
	pgAllowAudit      = `DROP TRIGGER refuse_audit_by_test ON audit_events; DROP FUNCTION refuse_audit_by_test()`
	sqliteRefuseAudit = `
		CREATE TRIGGER refuse_audit_by_test BEFORE INSERT ON audit_events WHEN NEW.kind LIKE '%s%'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`
	sqliteAllowAudit = `DROP TRIGGER refuse_audit_by_test`
)

// AuditRefuser turns on (true) and off (false) the refusal of the audit
// events whose kind starts with prefix (letters, dots and underscores).
type AuditRefuser func(on bool)

// RefuseAuditSQLite is the AuditRefuser of prefix on db.
func RefuseAuditSQLite(t testing.TB, db *sqlite.DB, prefix string) AuditRefuser {
	refuse := refusal(t, sqliteRefuseAudit, prefix)
	return func(on bool) {
		q := map[bool]string{true: refuse, false: sqliteAllowAudit}[on]
		if _, err := db.Writer().ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// RefuseAuditPostgres is the AuditRefuser of prefix on db.
func RefuseAuditPostgres(t testing.TB, db *postgres.DB, prefix string) AuditRefuser {
	refuse := refusal(t, pgRefuseAudit, prefix)
	return func(on bool) {
		q := map[bool]string{true: refuse, false: pgAllowAudit}[on]
		if _, err := db.Pool().Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// refusal is the trigger of format for prefix, which goes into SQL text
// (a trigger's WHEN takes no parameters): only letters, dots and
// underscores.
func refusal(t testing.TB, format, prefix string) string {
	t.Helper()
	if prefix == "" || strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyz._") != "" {
		t.Fatalf("audit kind prefix %q: letters, dots and underscores only", prefix)
	}
	return strings.Replace(format, "%s", prefix, 1)
}
