package browsertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// AxePath is where axe-core's script sits in the repository once the
// tools' npm packages are installed (tools/package.json pins the version;
// make test installs them when missing).
const AxePath = "tools/node_modules/axe-core/axe.min.js"

// axeTags are the rule sets a scan runs: WCAG 2.0, 2.1 and 2.2 at levels
// A and AA, and axe's best practices.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

// Violation is one rule axe-core found broken, with the elements that
// break it.
type Violation struct {
	Rule   string   `json:"id"`
	Impact string   `json:"impact"` // minor, moderate, serious or critical
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"` // each: the element's selector and what is wrong
}

// Blocking reports whether the violation fails a page: serious or critical.
func (v Violation) Blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s\n\t%s", v.Rule, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
}

// Axe is axe-core's script, read from the repository (AxePath). Without
// it the test is skipped (failed in CI).
func Axe(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(root, AxePath)) //nolint:gosec // a fixed path in the repository
	if err != nil {
		SkipOrFail(t, fmt.Sprintf("no axe-core at %s (%v): skipping the accessibility scan (make test installs it: cd tools && npm ci)", AxePath, err))
	}
	return string(b)
}

// moduleRoot is the directory of go.mod above the working directory (a
// test runs in its package's directory).
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
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Scan runs axe-core (the script Axe returned) inside the page as it is
// now and returns every violation it reports.
func (p *Page) Scan(axe string) []Violation {
	p.t.Helper()
	if p.Eval(`typeof window.axe === 'object' ? 'yes' : ''`) == "" {
		// DevTools evaluation is not subject to the page's
		// Content-Security-Policy, so the strict policy stays on.
		p.Eval(axe + "\n;''")
	}
	tags, err := json.Marshal(axeTags)
	if err != nil {
		p.t.Fatal(err)
	}
	out := p.Eval(fmt.Sprintf(`(async () => {
		const r = await axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']});
		return JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' '))})));
	})()`, tags))
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		p.t.Fatalf("browsertest: axe's answer %.200q: %v", out, err)
	}
	return vs
}

// CheckAccessibility scans the page as it is now and fails the test on
// any serious or critical violation (name says which page), logging the
// lesser ones.
func (p *Page) CheckAccessibility(axe, name string) {
	p.t.Helper()
	for _, v := range p.Scan(axe) {
		if v.Blocking() {
			p.t.Errorf("%s (%s, %d px): accessibility: %s", name, p.location(), p.width, v)
		} else {
			p.t.Logf("%s (%d px): accessibility, not blocking: %s", name, p.width, v)
		}
	}
}
