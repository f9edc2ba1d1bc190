package upgradetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPreviousRelease checks how the previous release is found: the newest
// release tag reachable from HEAD other than HEAD's own, else the file,
// else a clear error. It needs git only, no build.
func TestPreviousRelease(t *testing.T) {
	repo := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := git(repo, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	commit := func() string {
		run("commit", "-q", "--allow-empty", "-m", "c")
		return run("rev-parse", "HEAD")
	}
	writeFile := func(body string) {
		t.Helper()
		path := filepath.Join(repo, previousReleaseFile)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, wantTag, wantCommit, wantErr string) {
		t.Helper()
		rel, err := previousRelease(repo)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: got %+v, error %v; want an error containing %q", step, rel, err, wantErr)
			}
			return
		}
		if err != nil || rel.tag != wantTag || rel.commit != wantCommit {
			t.Errorf("%s: got %+v, error %v; want %s at %s", step, rel, err, wantTag, wantCommit)
		}
	}

	run("init", "-q")
	first := commit()
	check("no tag, no file", "", "", "no previous release")
	writeFile("# comment\nv0.1.0 " + first + "\n")
	check("no tag, the file", "v0.1.0", first, "")
	writeFile("v0.1.0 " + strings.Repeat("0", 40) + "\n")
	check("the file names a commit the clone lacks", "", "", "which this clone does not have")
	writeFile("v0.1.0 " + first[:7] + "\n")
	check("the file names a short SHA", "", "", "must hold one line")

	run("tag", "v0.9.0", first)
	second := commit()
	run("tag", "v0.10.0")
	run("tag", "v0.11.0-rc.1")
	check("HEAD is v0.10.0: the release before it", "v0.9.0", first, "")
	commit()
	check("after v0.10.0 (v0.11.0-rc.1 is no release)", "v0.10.0", second, "")
}
