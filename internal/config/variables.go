package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Prefix starts the name of every usersvc variable except DATABASE_URL and
// REDIS_URL. An unknown variable with it is reported (see Load).
const Prefix = "USERSVC_"

// FileSuffix turns a secret variable's name into that of the variable
// holding the path of a file with its value (USERSVC_JWT_SECRET_FILE): the
// Docker and ECS secrets convention.
const FileSuffix = "_FILE"

// reservedPrefixes name variables that the test suite and the benchmarks
// read, never the service: they are not reported as unknown.
func reservedPrefixes() []string { return []string{Prefix + "TEST_", Prefix + "BENCH_"} }

// The values of the secret struct tag, which marks a field whose value must
// never be shown: secretValue hides the whole value, secretURL only the
// passwords inside the URL (see Redact). Either kind also accepts NAME_FILE.
const (
	secretValue = "true"
	secretURL   = "url"
)

// variable is one setting Config reads, as its struct tags declare it.
type variable struct {
	name   string // the environment variable
	secret string // "", secretValue or secretURL
	index  []int  // the field's index path in Config, for reflect
}

// variables lists every variable Config reads, in the order of the
// struct, from the env and secret tags (embedded structs included): the one
// definition that the _FILE variants, the unknown-variable check, redaction
// and the documentation test all use.
func variables() []variable {
	var vars []variable
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			at := append(slices.Clone(index), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, at)
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				vars = append(vars, variable{name: name, secret: f.Tag.Get("secret"), index: at})
			}
		}
	}
	walk(reflect.TypeFor[Config](), nil)
	return vars
}

// Variables lists the name of every variable Load reads (not the NAME_FILE
// variants), in the order of Config: for the commands' help, which names
// the variables each one uses.
func Variables() []string {
	var names []string
	for _, v := range variables() {
		names = append(names, v.name)
	}
	return names
}

// knownNames is every variable name Load reads, NAME_FILE variants
// included.
func knownNames() []string {
	var names []string
	for _, v := range variables() {
		names = append(names, v.name)
		if v.secret != "" {
			names = append(names, v.name+FileSuffix)
		}
	}
	return names
}

// unknownVariables reports each USERSVC_* name in vars that Load does not
// read (any letter case: USERSVC_ is checked case-insensitively, as a
// lower-case name is surely meant for us), with the nearest known name when
// one is close, sorted. Never the values.
func unknownVariables(vars map[string]string) []string {
	known := knownNames()
	var notes []string
	for name := range vars {
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, Prefix) || slices.Contains(known, name) || reserved(upper) {
			continue
		}
		note := name + ": unknown"
		if near, ok := nearest(strings.TrimPrefix(upper, Prefix), known, func(k string) string { return strings.TrimPrefix(k, Prefix) }); ok {
			note += "; did you mean " + near + "?"
		} else {
			note += " (README.md, Configuration, lists every variable)"
		}
		notes = append(notes, note)
	}
	slices.Sort(notes)
	return notes
}

func reserved(upperName string) bool {
	for _, p := range reservedPrefixes() {
		if strings.HasPrefix(upperName, p) {
			return true
		}
	}
	return false
}

// nearest returns the candidate whose key is closest to s by edit
// distance, if it is close enough to be a likely typo: at most a third of
// s's length, and at least 2 edits allowed. Comparing keys with the
// USERSVC_ prefix stripped lets USERSVC_DATABSE_URL find DATABASE_URL.
func nearest(s string, candidates []string, key func(string) string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := editDistance(s, key(c)); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist >= 0 && bestDist <= max(2, len(s)/3)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// suggest is " (did you mean X?)" for the candidate nearest s, or "".
func suggest(s string, candidates []string) string {
	if near, ok := nearest(s, candidates, func(c string) string { return c }); ok {
		return fmt.Sprintf(" (did you mean %s?)", near)
	}
	return ""
}
