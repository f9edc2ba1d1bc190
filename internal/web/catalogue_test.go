package web

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
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
	rules := map[string]bool{}
	for c := range ruleMessages() {
		rules[invalidKey(c)] = true
	}
	for key := range english {
		if !rules[key] && !strings.Contains(all, `"`+key+`"`) {
			t.Errorf("catalogue key %q is used nowhere", key)
		}
	}
}

// ruleMessages is every validation rule the pages may meet, with its
// English message: package user's and the client registry's.
func ruleMessages() map[user.Code]string {
	out := map[user.Code]string{}
	for _, c := range user.Codes() {
		out[c] = c.Message()
	}
	for _, c := range oauthclient.Codes() {
		out[c] = oauthclient.Message(c)
	}
	return out
}

// Every validation rule of the service has its text in the catalogue,
// taking the rule's arguments (as many, of the kinds its message gives
// them), and every rule's key names a rule: a new rule in package user
// fails here until the pages can say it in their own words.
func TestEveryValidationRuleHasItsText(t *testing.T) {
	verb := regexp.MustCompile(`%[a-z]`)
	if n := len(user.Codes()); n < 20 {
		t.Fatalf("user.Codes() = %d codes; the rules are not all listed", n)
	}
	if n := len(oauthclient.Codes()); n < 15 {
		t.Fatalf("oauthclient.Codes() = %d codes; the rules are not all listed", n)
	}
	rules := map[string]bool{}
	for c, message := range ruleMessages() {
		key := invalidKey(c)
		rules[key] = true
		text, ok := english[key]
		if !ok {
			t.Errorf("rule %q has no catalogue text %q", c, key)
			continue
		}
		var args []any
		for _, v := range verb.FindAllString(message, -1) {
			if v == "%d" {
				args = append(args, 8)
			} else {
				args = append(args, "x")
			}
		}
		if got, want := len(verb.FindAllString(text, -1)), len(args); got != want {
			t.Errorf("%s takes %d arguments, its rule gives %d", key, got, want)
		}
		if s := fmt.Sprintf(text, args...); strings.Contains(s, "%!") {
			t.Errorf("%s with the rule's arguments: %q", key, s)
		}
	}
	for key := range english {
		if strings.HasPrefix(key, "invalid.") && key != "invalid.unknown" && !rules[key] {
			t.Errorf("catalogue key %q names no rule of user.Codes() or oauthclient.Codes()", key)
		}
	}
}

// An invalid field of no rule the catalogue knows (an error made outside
// package user, a translation missing a rule) shows the catalogue's
// general text, never the service's English message.
func TestInvalidFieldOfNoKnownRule(t *testing.T) {
	p := &Pages{msg: Catalogue{"invalid.unknown": "Not accepted."}}
	for _, v := range []*user.ValidationError{
		{Field: "x", Message: "raw words"},
		{Field: "email", Message: "is required", Code: user.CodeRequired},
	} {
		if got := p.invalidText(v); got != "Not accepted." {
			t.Errorf("invalidText(%+v) = %q, want the general text", v, got)
		}
	}
	p.msg["invalid.required"] = "Fill this in."
	if got := p.invalidText(&user.ValidationError{Field: "email", Code: user.CodeRequired}); got != "Fill this in." {
		t.Errorf("a rule the catalogue has: %q", got)
	}
}
