package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// Every message an error page shows, named in the handlers or given by
// refusalKey for what the console's pages meet, has a title of its own
// in the catalogue: a new errorPage call fails here until its page says
// in its title what happened.
func TestEveryErrorPageHasItsOwnTitle(t *testing.T) {
	called := regexp.MustCompile(`errorPage\(w, r, [^,]+, "([a-z_.]+)"\)`)
	keys := map[string]bool{}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f) //nolint:gosec // this package's own sources
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range called.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	if len(keys) < 5 {
		t.Fatalf("found %d messages of error pages, want the handlers' (%v)", len(keys), keys)
	}
	for _, err := range []error{user.ErrNotFound, user.ErrForbidden, user.ErrUnavailable, user.ErrBusy, user.ErrRateLimited,
		oauthclient.ErrNotFound, oauthclient.ErrPublicClient} {
		keys[refusalKey(err)] = true
	}
	for key := range keys {
		title := errorTitle(key)
		if title == "error.title" {
			t.Errorf("the error page of %q is titled %q whatever happened, want a title of its own", key, english[title])
		}
		if _, ok := english[title]; !ok {
			t.Errorf("the error page of %q has the title %q, which the catalogue lacks", key, title)
		}
	}
}
