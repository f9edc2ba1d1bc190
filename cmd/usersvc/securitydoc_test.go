package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityDocNamesExistingTests checks that every `package.TestName`
// (or FuzzName; package is its path under internal, or usersvc) that docs/security.md cites as proof is a test function of
// that package, so the checklist cannot point at a test that was renamed
// or removed.
func TestSecurityDocNamesExistingTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	// A package under internal is named by its path there: web/browsertest.
	cited := regexp.MustCompile("`([a-z]+(?:/[a-z]+)*)\\.((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 50 {
		t.Fatalf("docs/security.md cites %d tests; expected the whole checklist", len(cited))
	}
	for _, c := range cited {
		pkg, name := c[1], c[2]
		dir := filepath.Join("..", "..", "internal", filepath.FromSlash(pkg))
		if pkg == "usersvc" {
			dir = "."
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "\nfunc "+name+"(") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/security.md cites %s.%s, which is not a test in %s", pkg, name, dir)
		}
	}
}
