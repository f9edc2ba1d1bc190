// Package docscheck checks that the documentation still describes the
// repository:
//
//   - every relative link in README.md and docs/*.md leads to a file or
//     directory of the repository (its #fragment to a heading of the
//     document), and every repository path they name in code spans exists
//     (see Links for what counts as a path);
//   - the configuration table of README.md (its "Configuration" section)
//     lists exactly the environment variables the service's code reads
//     (see Variables for what counts as read, and the _FILE rule).
//
// The repository is an fs.FS: RepoFS gives the files git tracks or would
// track, so a link to a generated or ignored file fails as it would in a
// fresh clone.
package docscheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"
)

// Problem is one disagreement between the documentation and the tree.
type Problem struct {
	File string // the document (or source file) it is in, slash-separated
	Line int    // 1-based; 0 when it is about the file as a whole
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Readme is the document whose configuration table is checked.
const Readme = "README.md"

// Docs returns the documents checked: README.md and docs/*.md of fsys.
func Docs(fsys fs.FS) ([]string, error) {
	docs, err := fs.Glob(fsys, "docs/*.md")
	if err != nil {
		return nil, err
	}
	return append([]string{Readme}, docs...), nil
}

// Check runs every check on the repository tree fsys and returns the
// problems found, sorted by file and line.
func Check(fsys fs.FS) ([]Problem, error) {
	docs, err := Docs(fsys)
	if err != nil {
		return nil, err
	}
	links, err := Links(fsys, docs)
	if err != nil {
		return nil, err
	}
	vars, err := Variables(fsys)
	if err != nil {
		return nil, err
	}
	problems := append(links, vars...)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return problems, nil
}

// RepoFS returns the tree of the git checkout at root as a fresh clone of
// it would hold it: the files git tracks or would track (untracked files
// that no .gitignore excludes), with their content on disk. Markdown and Go
// files carry their content; the others only exist.
func RepoFS(ctx context.Context, root string) (fs.FS, error) {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w: %s", root, err, strings.TrimSpace(stderr.String()))
	}
	fsys := fstest.MapFS{}
	for name := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
		f := &fstest.MapFile{}
		if ext := path.Ext(name); ext == ".md" || ext == ".go" {
			f.Data, err = os.ReadFile(filepath.Join(root, filepath.FromSlash(name))) // #nosec G304 -- a file git lists in the checkout
		} else {
			_, err = os.Stat(filepath.Join(root, filepath.FromSlash(name)))
		}
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return nil, err
		}
		fsys[name] = f
	}
	return fsys, nil
}

// exists reports whether name (slash-separated, relative to the root; it
// may be a glob) names at least one file or directory of fsys.
func exists(fsys fs.FS, name string) bool {
	name = strings.TrimSuffix(name, "/")
	if name == "" || name == "." {
		return true
	}
	if strings.ContainsAny(name, "*?[") {
		matches, err := fs.Glob(fsys, name)
		return err == nil && len(matches) > 0
	}
	_, err := fs.Stat(fsys, name)
	return err == nil
}
