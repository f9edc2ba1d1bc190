package upgradetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// renameFullName is the throwaway migration the checker's own test adds:
// it renames a column the previous release reads, which breaks it, and
// renames it back on the way down.
const renameFullName = `-- +goose Up
ALTER TABLE users RENAME COLUMN full_name TO full_name_renamed;

-- +goose Down
ALTER TABLE users RENAME COLUMN full_name_renamed TO full_name;
`

// childTimeout bounds the checker's run on the copy of the tree.
const childTimeout = 5 * time.Minute

// TestCheckerNamesBreakingMigration proves the checker on a copy of the
// tree with a throwaway migration renaming users.full_name: there,
// TestPreviousReleaseOnNewSchema must fail naming that migration's file,
// and TestRollbackToPreviousRelease must pass (`migrate down` renames the
// column back, and the previous release serves again).
func TestCheckerNamesBreakingMigration(t *testing.T) {
	bins := built(t)
	tree := t.TempDir()
	copyTree(t, bins.root, tree)
	file := addMigration(t, tree, "upgradetest_rename_full_name", renameFullName)
	// The rollback takes back the tree's own new migrations and the added
	// one, counted per store (a store may have migrations of its own).
	wantRolledBack := map[string]string{kindSQLite: "rolled back ", kindPostgres: "rolled back "}
	if bins.prevSrc != "" {
		for i, kind := range kinds {
			wantRolledBack[kind] = fmt.Sprintf("rolled back %d migrations", newerThan(t, migrationDirs(tree)[i], migrationDirs(bins.prevSrc)[i]))
		}
	}
	results := goTestJSON(t, tree, bins.previous, "^(TestPreviousReleaseOnNewSchema|TestRollbackToPreviousRelease)$")
	for _, kind := range kinds {
		forward, rollback := results["TestPreviousReleaseOnNewSchema/"+kind], results["TestRollbackToPreviousRelease/"+kind]
		if kind == kindPostgres && forward.action == "skip" && os.Getenv("CI") == "" {
			t.Logf("postgres: skipped in the copy too (%s)", strings.TrimSpace(forward.output))
			continue
		}
		wantNamed := "after migration " + file + ", the first migration that breaks it"
		if forward.action != "fail" || !strings.Contains(forward.output, wantNamed) {
			t.Errorf("%s: the checker %sed, want it to fail with %q; its output:\n%s", kind, forward.action, wantNamed, forward.output)
		} else {
			t.Logf("%s: the checker failed as it should:\n%s", kind, firstLines(forward.output, wantNamed, 3))
		}
		if rollback.action != "pass" || !strings.Contains(rollback.output, wantRolledBack[kind]) {
			t.Errorf("%s: the rollback test %sed, want it to pass saying %q; its output:\n%s", kind, rollback.action, wantRolledBack[kind], rollback.output)
		}
	}
}

// copyTree copies what builds and tests the module (go.mod, go.sum, cmd/,
// internal/) from the git checkout at root to dir: the tracked files and
// the untracked ones git does not ignore, as they are on disk.
func copyTree(t *testing.T, root, dir string) {
	t.Helper()
	out, err := git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "go.mod", "go.sum", "cmd", "internal")
	if err != nil {
		t.Fatalf("list the tree to copy (the checker's test needs a git checkout): %v", err)
	}
	for name := range strings.SplitSeq(strings.TrimRight(out, "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// migrationFile matches a migration's file name and its version.
var migrationFile = regexp.MustCompile(`^(\d+)_.*\.sql$`)

// migrationDirs are the migration folders of both stores in tree.
func migrationDirs(tree string) []string {
	return []string{filepath.Join(tree, "internal", "sqlite", "migrations"), filepath.Join(tree, "internal", "postgres", "migrations")}
}

// versions lists the versions of the migrations in the folders of dirs.
func versions(t *testing.T, dirs ...string) []int {
	t.Helper()
	var vs []int
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if m := migrationFile.FindStringSubmatch(e.Name()); m != nil {
				v, _ := strconv.Atoi(m[1])
				vs = append(vs, v)
			}
		}
	}
	return vs
}

// newerThan counts the migrations in dir newer than every one in prevDir
// (the same store's folder in the previous release's tree).
func newerThan(t *testing.T, dir, prevDir string) int {
	t.Helper()
	last := slices.Max(append(versions(t, prevDir), 0))
	n := 0
	for _, v := range versions(t, dir) {
		if v > last {
			n++
		}
	}
	return n
}

// addMigration adds body as the next migration of both stores in tree and
// returns its file name.
func addMigration(t *testing.T, tree, name, body string) string {
	t.Helper()
	dirs := migrationDirs(tree)
	last := slices.Max(append(versions(t, dirs...), 0))
	file := fmt.Sprintf("%05d_%s.sql", last+1, name)
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// result is how one test of a `go test -json` run ended, and what it said.
type result struct {
	action string // pass, fail or skip
	output string
}

// goTestJSON runs the tests matching run of this package in tree, with
// prev as the previous release, and returns each test's result by name.
func goTestJSON(t *testing.T, tree string, prev binary, run string) map[string]result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), childTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-json", "-run", run, "./internal/upgradetest")
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), envRun+"=1", envPreviousBinary+"="+prev.path, envPreviousVersion+"="+prev.version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if _, failed := errors.AsType[*exec.ExitError](err); err != nil && !failed {
		t.Fatalf("go test in the copy: %v\n%s", err, stderr.String())
	}
	results := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		r := results[e.Test]
		switch e.Action {
		case "output":
			r.output += e.Output
		case "pass", "fail", "skip":
			r.action = e.Action
		}
		results[e.Test] = r
	}
	if len(results) == 0 {
		t.Fatalf("go test in the copy ran no test:\n%s\n%s", out, stderr.String())
	}
	return results
}

// firstLines returns n lines of out, from the start of the line that holds s.
func firstLines(out, s string, n int) string {
	at := strings.Index(out, s)
	start := strings.LastIndex(out[:at], "\n") + 1
	lines := strings.Split(out[start:], "\n")
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
