package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
)

// migrateCmd runs `usersvc migrate args...` and returns its stdout, its
// stderr (with the error main would print) and its exit status.
func migrateCmd(t *testing.T, environ []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs bytes.Buffer
	err := runWithStreams(context.Background(), append([]string{"migrate"}, args...), environ, nil, &out, &errs)
	code = report(err, &errs)
	return out.String(), errs.String(), code
}

// applied reports whether `migrate status` lists the migration file as
// applied.
func applied(t *testing.T, environ []string, file string) bool {
	t.Helper()
	out, errs, code := migrateCmd(t, environ, "status")
	if code != 0 {
		t.Fatalf("migrate status: exit %d\n%s", code, errs)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == file {
			return f[2] == "applied"
		}
	}
	t.Fatalf("migrate status does not list %s:\n%s", file, out)
	return false
}

// TestMigrateDownRefusesToDestroyTheServiceKey: `usersvc migrate down`
// undid 00034 without a word, and its Down drops the stored service key,
// which nothing can make again once the key-encryption key has changed
// (docs/deploy.md, "Irreversible migrations"). It now refuses, exit 2,
// saying on stderr what would be lost, until --yes confirms; migrations
// that lose nothing go down as before.
func TestMigrateDownRefusesToDestroyTheServiceKey(t *testing.T) {
	const serviceKey = "00034_service_key.sql"
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			// Down, one at a time, to 00034: the ones after it lose nothing
			// that cannot be made again.
			var errs string
			var code int
			for range 5 {
				if !applied(t, environ, serviceKey) {
					t.Fatalf("migrate down undid %s without a confirmation", serviceKey)
				}
				if _, errs, code = migrateCmd(t, environ, "down"); code != 0 {
					break
				}
			}
			if code != 2 || !strings.Contains(errs, "service key") || !strings.Contains(errs, "--yes") {
				t.Errorf("migrate down of %s: exit %d, stderr %q; want exit 2 saying the service key would be lost and how to confirm", serviceKey, code, errs)
			}
			if !applied(t, environ, serviceKey) {
				t.Fatalf("the refused migrate down undid %s", serviceKey)
			}
			if out, errs, code := migrateCmd(t, environ, "down", "--yes"); code != 0 || !strings.Contains(out, serviceKey) {
				t.Fatalf("migrate down --yes: exit %d, stdout %q, stderr %q; want %s undone", code, out, errs, serviceKey)
			}
			if applied(t, environ, serviceKey) {
				t.Errorf("after migrate down --yes %s is still applied", serviceKey)
			}
			if _, errs, code := migrateCmd(t, environ, "down"); code != 0 {
				t.Errorf("migrate down of the migration before %s: exit %d, stderr %q; want it undone without --yes", serviceKey, code, errs)
			}
		})
	}
}

// execSQL runs statement on the database environ names: DATABASE_URL's,
// else the SQLite file in USERSVC_DATA_DIR.
func execSQL(t *testing.T, environ []string, statement string) {
	t.Helper()
	driver, source := "sqlite", ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "USERSVC_DATA_DIR="); ok && driver == "sqlite" {
			source = filepath.Join(v, app.SQLiteFile)
		}
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			driver, source = "pgx", v
		}
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// TestMigrateStatusShowsANewerReleasesMigrations: a database a newer
// release migrated (the N-1 binary running beside it, or after a
// rollback: docs/deploy.md) has migrations this binary does not know, and
// `migrate status` listed only its own, all applied, as if the database
// were exactly at this release. It now lists the others too, marked as
// unknown to this binary, and says on stderr that the database is ahead.
func TestMigrateStatusShowsANewerReleasesMigrations(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			execSQL(t, environ, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (90001, true)") // what goose records for a newer release's migration
			out, errs, code := migrateCmd(t, environ, "status")
			if code != 0 {
				t.Fatalf("migrate status: exit %d, stderr %q", code, errs)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, "90001") || !strings.Contains(last, "applied") || !strings.Contains(last, "unknown to this binary") {
				t.Errorf("migrate status printed\n%s\nwant a last line for 90001, applied, unknown to this binary", out)
			}
			if !applied(t, environ, "00034_service_key.sql") {
				t.Error("migrate status no longer lists this binary's migrations as applied")
			}
			if !strings.Contains(errs, "90001") || !strings.Contains(errs, "newer release") {
				t.Errorf("migrate status printed on stderr %q, want a warning that a newer release migrated the database", errs)
			}
		})
	}
}

// TestMigrateDownRefusesEveryLossyDown: only 00034 was refused without
// --yes, and the Downs of other migrations drop what was written since
// and nothing can make again (accounts, their roles and recovery emails,
// the audit log, signing keys, queued mail and events, webhook endpoints,
// TOTP secrets and recovery codes, passkeys, OAuth clients, consents).
// Taking the schema down one migration at a time, each of them is now
// refused, exit 2, naming what would be lost and how to confirm, and left
// applied; every other one goes down without --yes.
func TestMigrateDownRefusesEveryLossyDown(t *testing.T) {
	lossy := map[string]string{ // file: a word of what its Down loses
		"00001_create_users.sql":           "every account",
		"00003_signing_keys.sql":           "signing keys",
		"00004_roles_and_verification.sql": "roles",
		"00006_audit_events.sql":           "audit log",
		"00008_account_recovery.sql":       "recovery emails",
		"00010_river_queue.sql":            "mail and events",
		"00013_webhooks.sql":               "webhook endpoints",
		"00015_second_factors.sql":         "TOTP secrets",
		"00016_passkeys.sql":               "passkeys",
		"00017_oauth_clients.sql":          "OAuth clients",
		"00020_oidc.sql":                   "consents",
		"00034_service_key.sql":            "service key",
	}
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			if err := run(context.Background(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			refused := map[string]bool{}
			for file := latestApplied(t, environ); file != ""; file = latestApplied(t, environ) {
				want, isLossy := lossy[file]
				_, errs, code := migrateCmd(t, environ, "down")
				switch {
				case isLossy && (code != 2 || !strings.Contains(errs, want) || !strings.Contains(errs, "--yes")):
					t.Errorf("migrate down of %s: exit %d, stderr %q; want exit 2 saying %q would be lost and how to confirm", file, code, errs, want)
				case !isLossy && code != 0:
					t.Fatalf("migrate down of %s: exit %d, stderr %q; want it undone without --yes", file, code, errs)
				}
				if !isLossy {
					continue
				}
				refused[file] = true
				if latestApplied(t, environ) != file {
					t.Fatalf("the refused migrate down undid %s", file)
				}
				if _, errs, code := migrateCmd(t, environ, "down", "--yes"); code != 0 {
					t.Fatalf("migrate down --yes of %s: exit %d, stderr %q", file, code, errs)
				}
			}
			for file := range lossy {
				if !refused[file] {
					t.Errorf("%s was never reached going down", file)
				}
			}
		})
	}
}

// latestApplied is the file of the latest migration `migrate status`
// lists as applied, "" when none is.
func latestApplied(t *testing.T, environ []string) string {
	t.Helper()
	out, errs, code := migrateCmd(t, environ, "status")
	if code != 0 {
		t.Fatalf("migrate status: exit %d\n%s", code, errs)
	}
	latest := ""
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "applied" {
			latest = f[1]
		}
	}
	return latest
}
