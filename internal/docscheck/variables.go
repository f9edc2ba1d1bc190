package docscheck

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// codeDirs are the directories of the service's code, whose settings the
// README documents (not bench/ or examples/, programs of their own).
var codeDirs = []string{"cmd", "internal"}

// envReaders are the names of the functions whose first argument is the
// name of an environment variable they read (os.Getenv, os.LookupEnv, and
// the getenv functions handed around in their place).
var envReaders = map[string]bool{"Getenv": true, "LookupEnv": true, "getenv": true, "lookupEnv": true}

// settingPrefix is the prefix of the service's own variables: a name read
// through a call counts only with it (the CI, HOME, ... a tool may read are
// not settings). Every name in an `env` struct tag counts (DATABASE_URL).
const settingPrefix = "USERSVC_"

// fileSuffix is the suffix of a variable that reads a secret from a file.
const fileSuffix = "_FILE"

// Variables checks the configuration table of README.md against the
// environment variables the code reads. The code is the Go files under
// cmd/ and internal/, without _test.go files and without the test helper
// packages (directories named *test, such as storetest). It reads:
//
//   - every name in an `env:"NAME,..."` struct tag (github.com/caarlos0/env);
//   - every USERSVC_* name passed, as a string literal or a constant, as
//     the first argument of a call to Getenv, LookupEnv, getenv or
//     lookupEnv.
//
// The table is every table row of the README's "Configuration" section
// (up to the next level-2 heading): its first cell's code spans name its
// variables. Each variable read must be in the table and each variable in
// the table must be read, with one exception, the _FILE rule: a variable
// NAME_FILE that is read needs no row of its own when the row of NAME, or a
// paragraph of the section that names `NAME`, contains "_FILE" (such as
// "also `USERSVC_SMTP_PASSWORD_FILE`", or "secrets also accept `NAME_FILE`").
func Variables(fsys fs.FS) ([]Problem, error) {
	read, err := readVariables(fsys)
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(fsys, Readme)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Readme, err)
	}
	table, fileOK, err := configurationTable(string(b))
	if err != nil {
		return nil, err
	}
	var problems []Problem
	for _, name := range slices.Sorted(mapKeys(read)) {
		base, isFile := strings.CutSuffix(name, fileSuffix)
		if _, ok := table[name]; ok || (isFile && fileOK[base]) {
			continue
		}
		problems = append(problems, Problem{File: read[name], Msg: fmt.Sprintf(
			"%s is read here but not in the configuration table of %s", name, Readme)})
	}
	for _, name := range slices.Sorted(mapKeys(table)) {
		if _, ok := read[name]; !ok {
			problems = append(problems, Problem{File: Readme, Line: table[name], Msg: fmt.Sprintf(
				"%s is in the configuration table but no code under %s reads it", name, strings.Join(codeDirs, "/, ")+"/")})
		}
	}
	return problems, nil
}

// mapKeys returns m's keys, for slices.Sorted.
func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readVariables returns the variables the code reads, each with the first
// file (by name) that reads it.
func readVariables(fsys fs.FS) (map[string]string, error) {
	files, err := codeFiles(fsys)
	if err != nil {
		return nil, err
	}
	consts := map[string]string{} // string constants of the code, by name
	for _, f := range files {
		collectConsts(f.ast, consts)
	}
	read := map[string]string{}
	for _, f := range files {
		for _, name := range variablesOf(f.ast, consts) {
			if _, seen := read[name]; !seen {
				read[name] = f.name
			}
		}
	}
	return read, nil
}

// codeFile is a parsed Go file of the code.
type codeFile struct {
	name string
	ast  *ast.File
}

// codeFiles parses the Go files of the code, in name order.
func codeFiles(fsys fs.FS) ([]codeFile, error) {
	var files []codeFile
	fset := token.NewFileSet()
	for _, dir := range codeDirs {
		if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && name != dir && strings.HasSuffix(path.Base(name), "test"):
				return fs.SkipDir // a test helper package
			case d.IsDir() || path.Ext(name) != ".go" || strings.HasSuffix(name, "_test.go"):
				return nil
			}
			src, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files = append(files, codeFile{name: name, ast: f})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the code under %s: %w", dir, err)
		}
	}
	return files, nil
}

// collectConsts adds f's string constants to consts.
func collectConsts(f *ast.File, consts map[string]string) {
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range spec.Names {
			if i < len(spec.Values) {
				if s, ok := stringLit(spec.Values[i]); ok {
					consts[id.Name] = s
				}
			}
		}
		return true
	})
}

// variablesOf returns the variables f reads: names in `env` struct tags,
// and USERSVC_* names passed to an env reader.
func variablesOf(f *ast.File, consts map[string]string) []string {
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			if n.Tag == nil {
				break
			}
			if tag, ok := stringLit(n.Tag); ok {
				if name, _, _ := strings.Cut(reflect.StructTag(tag).Get("env"), ","); name != "" {
					names = append(names, name)
				}
			}
		case *ast.CallExpr:
			if name, ok := envArgument(n, consts); ok && strings.HasPrefix(name, settingPrefix) {
				names = append(names, name)
			}
		}
		return true
	})
	return names
}

// envArgument returns the first argument of call when call is to an env
// reader and the argument a string literal or a known constant.
func envArgument(call *ast.CallExpr, consts map[string]string) (string, bool) {
	var fn string
	switch f := call.Fun.(type) {
	case *ast.Ident:
		fn = f.Name
	case *ast.SelectorExpr:
		fn = f.Sel.Name
	}
	if !envReaders[fn] || len(call.Args) == 0 {
		return "", false
	}
	switch a := call.Args[0].(type) {
	case *ast.Ident:
		s, ok := consts[a.Name]
		return s, ok
	case *ast.SelectorExpr:
		s, ok := consts[a.Sel.Name]
		return s, ok
	}
	return stringLit(call.Args[0])
}

// stringLit returns the value of e when it is a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

var (
	// configurationHeading starts the section of the configuration table.
	configurationHeading = regexp.MustCompile(`^##\s+Configuration\s*$`)
	// variableName is a variable in a code span.
	variableName = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
)

// configurationTable reads the README's "Configuration" section: the
// variables of its table, with their line numbers, and the variables whose
// NAME_FILE the _FILE rule documents.
func configurationTable(readme string) (table map[string]int, fileOK map[string]bool, err error) {
	table, fileOK = map[string]int{}, map[string]bool{}
	lines := strings.Split(readme, "\n")
	start := slices.IndexFunc(lines, configurationHeading.MatchString)
	if start < 0 {
		return nil, nil, fmt.Errorf("%s has no \"## Configuration\" section", Readme)
	}
	prose := proseLines(readme)
	var paragraph []string
	for i := start + 1; i < len(lines) && !strings.HasPrefix(lines[i], "## "); i++ {
		line, isProse := prose[i+1]
		row := strings.HasPrefix(strings.TrimSpace(line), "|")
		if !isProse || row || strings.TrimSpace(line) == "" {
			markFileVariants(strings.Join(paragraph, " "), fileOK)
			paragraph = nil
		}
		switch {
		case row:
			first, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|")
			for _, m := range variableName.FindAllStringSubmatch(first, -1) {
				table[m[1]] = i + 1
			}
			markFileVariants(line, fileOK)
		case isProse && strings.TrimSpace(line) != "":
			paragraph = append(paragraph, line)
		}
	}
	markFileVariants(strings.Join(paragraph, " "), fileOK)
	return table, fileOK, nil
}

// markFileVariants marks, when text (a table row or a paragraph) contains
// "_FILE", every variable it names as accepting a NAME_FILE variant.
func markFileVariants(text string, fileOK map[string]bool) {
	if !strings.Contains(text, fileSuffix) {
		return
	}
	for _, m := range variableName.FindAllStringSubmatch(text, -1) {
		fileOK[m[1]] = true
	}
}
