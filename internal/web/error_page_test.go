package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

var (
	pageTitle = regexp.MustCompile(`<title>([^<]*) · [^<]*</title>`)
	heading   = regexp.MustCompile(`<h1>([^<]*)</h1>`)
	mainLinks = regexp.MustCompile(`<ul class="links"><li><a href="([^"]*)">([^<]*)</a></li></ul>`)
)

// TestErrorPagesSayWhatHappenedAndLeadBack: an error page's title and
// heading say what went wrong (WCAG 2.4.2), not "Something went wrong"
// whatever it was, and it links back to the account for a signed-in
// browser, which also keeps the menu (3.2.3), and to sign in for anyone
// else, never to an address the request carried.
func TestErrorPagesSayWhatHappenedAndLeadBack(t *testing.T) {
	s, admin, _ := adminSite(t, apptest.SQLite)
	s.account("ada")
	ada := s.browser()
	ada.signIn("ada", password, "/account")
	anon := s.browser()
	crossSite := []string{"Sec-Fetch-Site", "cross-site"}
	evil := "?return_to=" + url.QueryEscape("https://evil.example/next")

	for _, tt := range []struct {
		name      string
		answer    func() page
		status    int
		title     string
		back, via string // the link's address and text
		menu      bool
	}{
		{"not an administrator", func() page { return ada.get("/admin/users" + evil) },
			http.StatusForbidden, "Not allowed", "/account", "Go to your account", true},
		{"no such user", func() page { return admin.get("/admin/users/" + uuid.NewString()) },
			http.StatusNotFound, "User not found", "/account", "Go to your account", true},
		{"cross-site form, signed in", func() page {
			return ada.post("/account/profile"+evil, url.Values{"email": {"x@example.com"}}, crossSite...)
		},
			http.StatusForbidden, "Not allowed", "/account", "Go to your account", true},
		{"cross-site form, signed out", func() page { return anon.post("/sign-in"+evil, url.Values{"login": {"ada"}}, crossSite...) },
			http.StatusForbidden, "Not allowed", "/sign-in", "Continue to sign in", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.answer()
			if p.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", p.status, tt.status, p.body)
			}
			if m := pageTitle.FindStringSubmatch(p.body); m == nil || m[1] != tt.title {
				t.Errorf("the page is titled %q, want %q", m, tt.title)
			}
			if m := heading.FindStringSubmatch(p.body); m == nil || m[1] != tt.title {
				t.Errorf("the heading is %q, want %q", m, tt.title)
			}
			if m := mainLinks.FindStringSubmatch(p.body); m == nil || m[1] != tt.back || m[2] != tt.via {
				t.Errorf("the way back is %q, want a link %q to %s\n%s", m, tt.via, tt.back, p.body)
			}
			if menu := strings.Contains(p.body, `<nav aria-label="Account">`); menu != tt.menu {
				t.Errorf("the account menu shown: %v, want %v", menu, tt.menu)
			}
			if strings.Contains(p.body, "evil.example") {
				t.Errorf("the page carries the request's return_to\n%s", p.body)
			}
		})
	}
}
