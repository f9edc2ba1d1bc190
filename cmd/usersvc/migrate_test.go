package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
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
