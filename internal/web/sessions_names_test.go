package web_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// endButton is the name a sessions page gives a button that ends one
// session.
var endButton = regexp.MustCompile(`<button type="submit" class="quiet" aria-label="([^"]*)">`)

// TestSessionsButtonsHaveNamesOfTheirOwn: sessions of one browser and
// address begun in one minute (and the one of another browser) each get a
// sign-out button whose name is its own and says the device and the
// address, on the second page too: a screen reader's list of buttons
// tells them apart.
func TestSessionsButtonsHaveNamesOfTheirOwn(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_MAX_SESSIONS_PER_USER", "1000"))
	s.account("ada")
	const agent, address = "Firefox/140.0 (X11; Linux x86_64)", "198.51.100.7"
	ctx := user.WithClient(t.Context(), user.Client{UserAgent: agent, IP: address})
	for range user.DefaultSessionPage + 2 {
		if _, err := s.App.Service().Login(ctx, "ada", password, ""); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	b := s.browser()
	b.signIn("ada", password, "/account")

	names := map[string]bool{}
	for path, n := "/account/sessions", 0; path != ""; n++ {
		p := b.get(path)
		_, next, _ := sessionsOn(t, p)
		for _, m := range endButton.FindAllStringSubmatch(p.body, -1) {
			name := html.UnescapeString(m[1])
			if names[name] {
				t.Errorf("two buttons are called %q", name)
			}
			names[name] = true
			if !strings.HasPrefix(name, "Sign out this one") {
				t.Errorf("the button %q does not start with its visible text", name)
			}
			if !strings.Contains(name, "TestBrowser/1.0") && (!strings.Contains(name, agent) || !strings.Contains(name, address)) {
				t.Errorf("the button %q does not say the session's device and address", name)
			}
		}
		if path = next; n > 3 {
			t.Fatal("more pages than sessions")
		}
	}
	if got, want := len(names), user.DefaultSessionPage+3; got != want {
		t.Errorf("%d buttons of their own, want one a session (%d)", got, want)
	}
}
