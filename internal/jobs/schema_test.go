package jobs_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

var update = flag.Bool("update", false, "write the River schema migrations from the River module in go.mod")

// riverSchemaVersion is the River schema version (migration line main)
// migration 00010 brings the databases to.
const riverSchemaVersion = 8

func TestRiverSchemaMigrations(t *testing.T) {
	pg, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := rivermigrate.New(riversqlite.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		dialect, path string
		versions      []rivermigrate.Migration
	}{
		{"postgres", "../postgres/migrations/00010_river_queue.sql", pg.AllVersions()},
		{"sqlite", "../sqlite/migrations/00010_river_queue.sql", lite.AllVersions()},
	} {
		t.Run(m.dialect, func(t *testing.T) {
			if got := m.versions[len(m.versions)-1].Version; got != riverSchemaVersion {
				t.Fatalf("River's newest schema version is %d, migration 00010 applies %d: add a migration that takes it further", got, riverSchemaVersion)
			}
			want, err := gooseMigration(m.dialect, m.versions)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(m.path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(m.path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("%s differs from River's migrations 1-%d (go test ./internal/jobs -run TestRiverSchemaMigrations -update writes it)", m.path, riverSchemaVersion)
			}
		})
	}
}

// pendingAtCreation is the one change made to River's PostgreSQL SQL: the
// enum value 'pending' (River's version 004 adds it, after 'discarded')
// is part of the type from its creation in version 002, so that 004's
// ADD VALUE IF NOT EXISTS does nothing. River's migrator commits each
// version; here they share one transaction, and PostgreSQL refuses the use
// of an enum value added in the transaction using it (006 uses it). The
// resulting type is the same, in the same order.
var pendingAtCreation = [2]string{"  'discarded',\n  'retryable',", "  'discarded',\n  'pending',\n  'retryable',"}

// gooseMigration is one goose migration of River's versions: every up
// migration in order, recorded in river_migration as River's migrator
// would (so its tooling agrees with the schema), and every down migration
// in reverse.
func gooseMigration(dialect string, versions []rivermigrate.Migration) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `-- +goose Up
-- The durable job queue (River, github.com/riverqueue/river): its tables,
-- generated from River's own migrations (line main, versions 1-%d) by
--     go test ./internal/jobs -run TestRiverSchemaMigrations -update
-- Do not edit. New tables only: the release before never reads them.
-- River's versions are recorded in river_migration, as River's migrator
-- records them. And usersvc's own: the last sequence number of each
-- account's events (event.Event.Seq), kept after the account is deleted.
CREATE TABLE event_sequences (
    user_id %s PRIMARY KEY,
    seq     BIGINT NOT NULL
);
`, riverSchemaVersion, map[string]string{"postgres": "UUID", "sqlite": "TEXT"}[dialect])
	for _, v := range versions[:riverSchemaVersion] {
		up := untemplate(v.SQLUp)
		if dialect == "postgres" && v.Version == 2 {
			if strings.Count(up, pendingAtCreation[0]) != 1 {
				return "", fmt.Errorf("River's version 002 no longer creates river_job_state as expected: check pendingAtCreation")
			}
			up = strings.Replace(up, pendingAtCreation[0], pendingAtCreation[1], 1)
		}
		fmt.Fprintf(&b, "\n-- River %03d %s\n-- +goose StatementBegin\n%s\n-- +goose StatementEnd\n", v.Version, v.Name, up)
	}
	var rows []string
	for _, v := range versions[:riverSchemaVersion] {
		rows = append(rows, fmt.Sprintf("('main', %d)", v.Version))
	}
	fmt.Fprintf(&b, "\n-- +goose StatementBegin\nINSERT INTO river_migration (line, version) VALUES %s;\n-- +goose StatementEnd\n", strings.Join(rows, ", "))
	b.WriteString("\n-- +goose Down\nDROP TABLE event_sequences;\n")
	for i := riverSchemaVersion - 1; i >= 0; i-- {
		v := versions[i]
		fmt.Fprintf(&b, "\n-- River %03d %s\n-- +goose StatementBegin\n%s\n-- +goose StatementEnd\n", v.Version, v.Name, untemplate(v.SQLDown))
	}
	return b.String(), nil
}

// untemplate fills River's schema placeholders with the default schema
// (nothing), as River's migrator does without a configured schema.
func untemplate(sql string) string {
	return strings.TrimSpace(strings.ReplaceAll(sql, "/* TEMPLATE: schema */", ""))
}
