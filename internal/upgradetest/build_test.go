package upgradetest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Test-only environment variables.
const (
	// envRun switches the package's tests on: they build binaries and take
	// a minute or more, so `make test` skips them and `make upgradetest`
	// (in .ci/run) runs them.
	envRun = "USERSVC_TEST_UPGRADE"
	// envPreviousBinary and envPreviousVersion hand a previous release
	// already built (path and version) to a test process that runs on a
	// copy of the tree without git (TestCheckerNamesBreakingMigration).
	envPreviousBinary  = "USERSVC_TEST_PREVIOUS_BINARY"
	envPreviousVersion = "USERSVC_TEST_PREVIOUS_VERSION"
)

// previousReleaseFile names, relative to the module root, the fallback for
// clones without tags: one line, "<tag> <full commit SHA>".
const previousReleaseFile = ".ci/previous-release"

// binary is a usersvc executable and the version it was built from.
type binary struct {
	path    string
	version string
}

// binaries are the two executables the tests run.
type binaries struct {
	root     string // the module's root directory (the tree under test)
	current  binary // built from root
	previous binary // the previous release
	prevSrc  string // the previous release's source tree; empty when handed in
	prevFrom string // how the previous release was found
}

// workshop builds the binaries once per test process; TestMain removes them.
// Process-wide by necessity, as storetest's template database is.
var workshop struct {
	once sync.Once
	dir  string
	bins binaries
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if workshop.dir != "" {
		_ = os.RemoveAll(workshop.dir)
	}
	os.Exit(code)
}

// built returns the binaries, building them on first use; it skips the
// test unless envRun is set.
func built(t *testing.T) binaries {
	t.Helper()
	if os.Getenv(envRun) == "" {
		t.Skip(envRun + " is not set: the upgrade tests build binaries and run in `make upgradetest`")
	}
	workshop.once.Do(func() { workshop.bins, workshop.err = build() })
	if workshop.err != nil {
		t.Fatalf("build the binaries: %v", workshop.err)
	}
	return workshop.bins
}

// build builds the current tree and the previous release (or takes the one
// handed in by envPreviousBinary) into a new temporary directory.
func build() (binaries, error) {
	dir, err := os.MkdirTemp("", "upgradetest-")
	if err != nil {
		return binaries{}, err
	}
	workshop.dir = dir
	root, err := moduleRoot()
	if err != nil {
		return binaries{}, err
	}
	bins := binaries{root: root, current: binary{path: filepath.Join(dir, "usersvc-current"), version: "current"}}
	if err := goBuild(root, bins.current); err != nil {
		return binaries{}, fmt.Errorf("the current tree: %w", err)
	}
	if path := os.Getenv(envPreviousBinary); path != "" {
		bins.previous = binary{path: path, version: os.Getenv(envPreviousVersion)}
		bins.prevFrom = envPreviousBinary
		return bins, nil
	}
	rel, err := previousRelease(root)
	if err != nil {
		return binaries{}, err
	}
	bins.prevSrc = filepath.Join(dir, "previous-src")
	if err := extract(root, rel.commit, bins.prevSrc); err != nil {
		return binaries{}, err
	}
	bins.previous = binary{path: filepath.Join(dir, "usersvc-"+rel.tag), version: rel.tag}
	bins.prevFrom = rel.source
	if err := goBuild(bins.prevSrc, bins.previous); err != nil {
		return binaries{}, fmt.Errorf("the previous release %s (%s): %w", rel.tag, rel.commit, err)
	}
	return bins, nil
}

// moduleRoot returns the nearest directory above the working directory
// that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// goBuild builds cmd/usersvc of the module in dir as `make build` does:
// static, trimmed, with the version stamped in.
func goBuild(dir string, b binary) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X main.version="+b.version+" -X main.commit=upgradetest",
		"-o", b.path, "./cmd/usersvc")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// release is a released version: its tag and commit, and how it was found.
type release struct {
	tag, commit, source string
}

// releaseTag matches the tags of releases (pre-releases are not one), and
// fullSHA a commit's full name.
var (
	releaseTag = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)$`)
	fullSHA    = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// previousRelease finds the release before HEAD in the git repository at
// root: the newest release tag reachable from HEAD that is not on HEAD
// itself, else the one previousReleaseFile names.
func previousRelease(root string) (release, error) {
	head, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		return release{}, err
	}
	if rel, ok, err := newestTag(root, head); err != nil || ok {
		return rel, err
	}
	b, err := os.ReadFile(filepath.Join(root, previousReleaseFile))
	if errors.Is(err, os.ErrNotExist) {
		return release{}, errors.New("no previous release: no v* tag is reachable from HEAD (fetch the tags: git fetch --tags) " +
			"and there is no " + previousReleaseFile + " naming one")
	}
	if err != nil {
		return release{}, err
	}
	var fields []string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			fields = append(fields, f...)
		}
	}
	if len(fields) != 2 || !releaseTag.MatchString(fields[0]) || !fullSHA.MatchString(fields[1]) {
		return release{}, fmt.Errorf("%s must hold one line \"<tag> <full commit SHA>\" (and # comments), such as \"v0.1.0 f5ae50e43c6dec69ae334748344c37b8e27eea97\"", previousReleaseFile)
	}
	if _, err := git(root, "cat-file", "-e", fields[1]+"^{commit}"); err != nil {
		return release{}, fmt.Errorf("%s names commit %s, which this clone does not have (a shallow clone? fetch the full history): %w",
			previousReleaseFile, fields[1], err)
	}
	return release{tag: fields[0], commit: fields[1], source: previousReleaseFile}, nil
}

// newestTag returns the newest release tag reachable from head and not on
// head itself; ok is false when there is none.
func newestTag(root, head string) (rel release, ok bool, err error) {
	out, err := git(root, "tag", "--merged", head, "--list", "v*")
	if err != nil {
		return release{}, false, err
	}
	var tags []string
	for _, tag := range strings.Fields(out) {
		if releaseTag.MatchString(tag) {
			tags = append(tags, tag)
		}
	}
	slices.SortFunc(tags, compareVersions)
	for _, tag := range slices.Backward(tags) {
		commit, err := git(root, "rev-parse", tag+"^{commit}")
		if err != nil {
			return release{}, false, err
		}
		if commit != head {
			return release{tag: tag, commit: commit, source: "tag " + tag}, true, nil
		}
	}
	return release{}, false, nil
}

// compareVersions orders release tags by version.
func compareVersions(a, b string) int {
	ma, mb := releaseTag.FindStringSubmatch(a), releaseTag.FindStringSubmatch(b)
	for i := 1; i <= 3; i++ {
		x, _ := strconv.Atoi(ma[i])
		y, _ := strconv.Atoi(mb[i])
		if x != y {
			return x - y
		}
	}
	return 0
}

// git runs git in dir and returns its trimmed standard output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// extract writes what the build needs of commit's tree into dir.
func extract(root, commit, dir string) error {
	cmd := exec.Command("git", "archive", "--format=tar", commit, "go.mod", "go.sum", "cmd", "internal")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	untarErr := untar(out, dir)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", commit, err, strings.TrimSpace(stderr.String()))
	}
	return untarErr
}

// untar writes the regular files of the tar stream r under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
}
