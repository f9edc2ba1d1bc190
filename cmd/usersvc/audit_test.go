package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

// auditStore opens the audit log of environ's database, migrated.
func auditStore(t *testing.T, environ []string) user.Stores {
	t.Helper()
	return migratedStore(t, environ).Stores()
}

// migratedStore migrates the database of environ up (usersvc migrate up)
// and opens it, as the commands do; closed when the test ends.
func migratedStore(t *testing.T, environ []string) app.Store {
	t.Helper()
	if err := run(t.Context(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := app.OpenStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestAuditPrune: `usersvc audit prune` removes the events older than the
// date and records who did it and what went; --dry-run only counts.
func TestAuditPrune(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := append(db.environ(t), "USER=ops-test")
			st := auditStore(t, environ)
			now := time.Now().UTC().Truncate(time.Microsecond)
			for _, at := range []time.Time{now.AddDate(-2, 0, 0), now.AddDate(-1, 0, -10), now.AddDate(0, 0, -1)} {
				if err := st.Audit.Append(t.Context(), user.AuditEvent{At: at, Kind: user.AuditLoginSucceeded, SubjectID: uuid.Must(uuid.NewV7())}); err != nil {
					t.Fatal(err)
				}
			}
			cut := now.AddDate(-1, 0, 0).Format(time.DateOnly)
			var out bytes.Buffer
			if err := run(context.Background(), []string{"audit", "prune", "--before", cut, "--dry-run"}, environ, &out); err != nil {
				t.Fatalf("audit prune --dry-run: %v", err)
			}
			if !strings.HasPrefix(out.String(), "2 audit events are older than "+cut) {
				t.Errorf("audit prune --dry-run printed %q, want the count 2", out.String())
			}
			if all, _ := st.Audit.Events(t.Context(), user.AuditFilter{}); len(all) != 3 {
				t.Fatalf("after a dry run %d events are stored, want 3", len(all))
			}
			out.Reset()
			if err := run(context.Background(), []string{"audit", "prune", "--before", cut}, environ, &out); err != nil {
				t.Fatalf("audit prune: %v", err)
			}
			if !strings.HasPrefix(out.String(), "removed 2 audit events older than "+cut) {
				t.Errorf("audit prune printed %q, want 2 removed", out.String())
			}
			all, err := st.Audit.Events(t.Context(), user.AuditFilter{})
			if err != nil || len(all) != 2 || all[1].At.Before(now.AddDate(0, 0, -1)) {
				t.Fatalf("after the prune: %v, %v; want the day-old event and the prune's", all, err)
			}
			got := all[0]
			want := map[string]string{"before": cut + "T00:00:00Z", "events": "2", "operator": "ops-test"}
			if got.Kind != user.AuditPruned || got.UserAgent != "usersvc audit prune" || !maps.Equal(got.Detail, want) {
				t.Errorf("the prune's event = %+v, want %s with detail %v", got, user.AuditPruned, want)
			}
		})
	}
}

// TestAuditPruneRefusals: a date in the future, a malformed one, no date or
// two ways of giving it are refused with a usage error (exit status 2)
// saying what is wrong, and nothing is removed.
func TestAuditPruneRefusals(t *testing.T) {
	environ := databases[0].environ(t)
	st := auditStore(t, environ)
	if err := st.Audit.Append(t.Context(), user.AuditEvent{At: time.Now().UTC().AddDate(-3, 0, 0), Kind: user.AuditLoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--before", tomorrow}, "is in the future"},
		{[]string{"--before", "2030-13-01"}, `--before "2030-13-01": want a date (2025-01-31) or an RFC 3339 time`},
		{[]string{"--before", "last year"}, "want a date"},
		{[]string{"--older-than", "0d"}, "must be more than zero"},
		{[]string{"--older-than", "a year"}, "want days (400d)"},
		{[]string{"--before", "2020-01-01", "--older-than", "30d"}, "not both"},
		{nil, "give --before DATE or --older-than AGE"},
		{[]string{"--before=2020-01-01", "--force"}, "flag provided but not defined: -force"},
		{[]string{"--before", "2020-01-01", "extra"}, `takes no more arguments, got "extra"`},
	} {
		err := run(context.Background(), append([]string{"audit", "prune"}, tt.args...), environ, io.Discard)
		if code := exitCode(err); code != 2 || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "usage: usersvc audit prune") {
			t.Errorf("audit prune %q = %v (exit %d), want exit 2 saying %q and the usage", tt.args, err, code, tt.want)
		}
	}
	if all, _ := st.Audit.Events(t.Context(), user.AuditFilter{}); len(all) != 1 {
		t.Errorf("after the refusals %d events are stored, want the 1 appended", len(all))
	}
}

// TestAuditPruneNeedsTheSchema: on a database not yet migrated, audit prune
// says to migrate first.
func TestAuditPruneNeedsTheSchema(t *testing.T) {
	err := run(context.Background(), []string{"audit", "prune", "--before", "2020-01-01"}, databases[0].environ(t), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "usersvc migrate up") {
		t.Errorf("audit prune on an empty database = %v, want an error saying to run migrate up", err)
	}
}
