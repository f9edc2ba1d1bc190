package docscheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode"
)

var (
	// inlineLink is a Markdown link or image, [text](target "title"),
	// and refLink a reference definition, [id]: target.
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	// codeSpan is `text` on one line.
	codeSpan = regexp.MustCompile("`([^`]+)`")
	// scheme starts an absolute URL (https:, mailto:, ...).
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	// pathLike is what a path in a code span looks like: segments of
	// letters, digits, _ . - and glob characters, separated by slashes.
	pathLike = regexp.MustCompile(`^[A-Za-z0-9_.*?\[\]-]+(/[A-Za-z0-9_.*?\[\]-]+)*/?$`)
)

// fileExtensions are the extensions that make a bare name in a code span
// (no slash) a file name that must exist somewhere in the repository. Not
// .txt, .out or .db: the documents name files that programs make
// (checksums.txt, coverage.out, usersvc.db).
var fileExtensions = map[string]bool{
	".md": true, ".go": true, ".sql": true, ".yml": true, ".yaml": true, ".tf": true,
	".tfvars": true, ".json": true, ".sh": true, ".html": true, ".png": true,
}

// Links checks the links and paths of docs (slash-separated names in
// fsys), outside fenced code blocks:
//
//   - a link (inline, image or reference definition) whose target has no
//     URL scheme must lead, relative to its document and without its ?query,
//     to a file or directory; its #fragment, when the target is a Markdown
//     document (or the fragment is all there is: the document itself), to
//     one of its headings (as GitHub makes their anchors) or <a id>s;
//   - a code span that looks like a path (no spaces, no $ < > { } : and
//     such) is checked when it contains a slash and its first segment is a
//     file or directory at the root (e.g. `internal/mail/templates`,
//     `.github/workflows/`, `internal/*/migrations`: a glob must match); one
//     that starts with ./ or ../ is taken relative to its document first;
//     a bare name with a file extension of fileExtensions (e.g.
//     `deploy.yml`) must exist in some directory.
//
// Paths whose first segment is not at the root (`/run/secrets/x`,
// `bin/usersvc`, `./data`) are not the repository's and are not checked.
func Links(fsys fs.FS, docs []string) ([]Problem, error) {
	names, err := baseNames(fsys)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	anchors := anchorCache{fsys: fsys, byDoc: map[string]map[string]bool{}}
	for _, doc := range docs {
		b, err := fs.ReadFile(fsys, doc)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", doc, err)
		}
		for n, line := range proseLines(string(b)) {
			for _, msg := range lineProblems(&anchors, names, doc, line) {
				problems = append(problems, Problem{File: doc, Line: n, Msg: msg})
			}
		}
	}
	return problems, nil
}

// proseLines returns the lines of a Markdown document by line number,
// leaving out fenced code blocks (``` or ~~~).
func proseLines(doc string) map[int]string {
	lines := map[int]string{}
	fence := ""
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"), strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
		default:
			lines[i+1] = line
		}
	}
	return lines
}

// lineProblems returns what is wrong with the links and paths of one line
// of doc.
func lineProblems(anchors *anchorCache, names map[string]bool, doc, line string) []string {
	fsys := anchors.fsys
	var msgs []string
	targets := inlineLink.FindAllStringSubmatch(line, -1)
	if m := refLink.FindStringSubmatch(line); m != nil {
		targets = append(targets, m)
	}
	for _, m := range targets {
		if msg := checkLink(anchors, doc, m[1]); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	for _, m := range codeSpan.FindAllStringSubmatch(inlineLink.ReplaceAllString(line, ""), -1) {
		if msg := checkPath(fsys, names, doc, m[1]); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	return msgs
}

// checkLink returns what is wrong with a link to target in doc ("" when
// nothing is).
func checkLink(anchors *anchorCache, doc, target string) string {
	if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
		return ""
	}
	file, fragment, _ := strings.Cut(target, "#")
	file, _, _ = strings.Cut(file, "?")
	if unescaped, err := url.PathUnescape(file); err == nil {
		file = unescaped
	}
	name, ok := doc, true
	if file != "" {
		name, ok = resolve(doc, file)
	}
	switch {
	case !ok:
		return fmt.Sprintf("link to %s leaves the repository", target)
	case !exists(anchors.fsys, name):
		return fmt.Sprintf("link to %s: %s is not in the repository", target, name)
	case fragment != "" && path.Ext(name) == ".md" && !anchors.has(name, fragment):
		return fmt.Sprintf("link to %s: %s has no heading with the anchor #%s", target, name, fragment)
	}
	return ""
}

// checkPath returns what is wrong with the code span s of doc, when it
// names a path of the repository ("" when nothing is, or it names none).
func checkPath(fsys fs.FS, names map[string]bool, doc, s string) string {
	s = strings.TrimSpace(s)
	if !pathLike.MatchString(s) {
		return ""
	}
	name := s
	if strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
		var ok bool
		if name, ok = resolve(doc, s); !ok {
			return fmt.Sprintf("path %s leaves the repository", s)
		}
	}
	first, _, nested := strings.Cut(name, "/")
	switch {
	case nested && exists(fsys, first):
		if !exists(fsys, name) {
			return fmt.Sprintf("path %s is not in the repository", s)
		}
	case !nested && fileExtensions[path.Ext(name)] && !strings.ContainsAny(name, "*?["):
		if !names[name] {
			return fmt.Sprintf("file %s is in no directory of the repository", s)
		}
	}
	return ""
}

// resolve returns the name in the tree of target, relative to doc's
// directory; ok is false when it leaves the tree.
func resolve(doc, target string) (string, bool) {
	name := path.Join(path.Dir(doc), target)
	return name, name != ".." && !strings.HasPrefix(name, "../")
}

// baseNames returns the base name of every file and directory of fsys.
func baseNames(fsys fs.FS) (map[string]bool, error) {
	names := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(name string, _ fs.DirEntry, err error) error {
		names[path.Base(name)] = true
		return err
	})
	return names, err
}

// anchorCache holds the anchors of the Markdown documents read so far.
type anchorCache struct {
	fsys  fs.FS
	byDoc map[string]map[string]bool
}

var (
	// heading is an ATX heading, htmlAnchor an <a id="..."> or <a name="...">.
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// has reports whether the document name has the anchor fragment.
func (c *anchorCache) has(name, fragment string) bool {
	anchors, ok := c.byDoc[name]
	if !ok {
		b, _ := fs.ReadFile(c.fsys, name) // unreadable: no anchors
		anchors = anchorsOf(string(b))
		c.byDoc[name] = anchors
	}
	return anchors[fragment]
}

// anchorsOf returns the anchors of a Markdown document: its headings'
// as GitHub makes them (lower case; letters, digits, spaces, - and _ kept,
// spaces made -; a repeated one gets -1, -2, ...) and its HTML anchors.
func anchorsOf(doc string) map[string]bool {
	anchors := map[string]bool{}
	for _, line := range proseLines(doc) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
	}
	seen := map[string]int{}
	for _, line := range strings.Split(doc, "\n") {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := slugOf(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// slugOf is a heading's anchor, as GitHub makes it.
func slugOf(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
