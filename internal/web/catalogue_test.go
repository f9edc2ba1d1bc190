package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every key the templates and the handlers name is in the catalogue, and
// every key in the catalogue is named somewhere: one place for every
// string, none missing, none dead.
func TestEveryKeyUsedIsInTheCatalogue(t *testing.T) {
	var sources strings.Builder
	used := map[string]bool{}
	tkey := regexp.MustCompile(`\{\{t "([a-z_.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		for _, m := range tkey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		sources.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range used {
		if _, ok := english[key]; !ok {
			t.Errorf("templates use %q, which the catalogue lacks", key)
		}
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") || f == "catalogue.go" {
			continue
		}
		b, err := os.ReadFile(f) //nolint:gosec // this package's own sources
		if err != nil {
			t.Fatal(err)
		}
		sources.Write(b)
	}
	all := sources.String()
	for key := range english {
		if !strings.Contains(all, `"`+key+`"`) {
			t.Errorf("catalogue key %q is used nowhere", key)
		}
	}
}
