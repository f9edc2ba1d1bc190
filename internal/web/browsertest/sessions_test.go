package browsertest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// TestSessionsPagesInTheBrowser walks the sessions of an account with
// more than a page of them by the pager's links, with nothing but links
// and forms: the position is said (aria-current, the title), a session
// ends from page 2 and the browser is back on page 2, both widths pass the
// scan and the phone does not scroll sideways. With USERSVC_SCREENSHOTS
// set, page 2's screenshots are written there.
func TestSessionsPagesInTheBrowser(t *testing.T) {
	browser := browsertest.Launch(t)
	axe := browsertest.Axe(t)
	site := newSite(t, apptest.SQLite, "USERSVC_MAX_SESSIONS_PER_USER", "1000")
	register(t, site, "ada@example.com", "ada")
	for range user.DefaultSessionPage + 4 {
		if _, err := site.App.Service().Login(t.Context(), "ada", password, ""); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	page := browser.NewPage(t)
	signIn(t, site, page, "ada", password, "/account")

	page.Open(site.URL + "/account/sessions")
	if got := page.Text(".pager [aria-current=page]"); got != "Page 1" {
		t.Fatalf("page 1 says %q where it is", got)
	}
	if status := page.Submit(".pager a[rel=next]"); status != http.StatusOK {
		t.Fatalf("following the next link: %d", status)
	}
	if got, title := page.Text(".pager [aria-current=page]"), page.Eval(`document.title`); got != "Page 2" || !strings.HasPrefix(title, "Your sessions, page 2") {
		t.Fatalf("page 2 says %q, titled %q", got, title)
	}
	if n := page.Count("ul.sessions > li"); n != 5 {
		t.Errorf("page 2 lists %d sessions, want 5", n)
	}
	page2, _ := url.Parse(page.Location())
	for _, px := range []int{browsertest.DesktopWidth, browsertest.PhoneWidth} {
		page.SetWidth(px)
		page.CheckAccessibility(axe, "sessions page 2")
		if got := page.Eval(`String(document.documentElement.scrollWidth)`); px == browsertest.PhoneWidth && got != fmt.Sprint(px) {
			t.Errorf("page 2 is %s px wide on a %d px phone", got, px)
		}
		save(t, os.Getenv("USERSVC_SCREENSHOTS"), fmt.Sprintf("sessions-page2-%d.png", px), page.Screenshot(px))
	}

	page.Submit("ul.sessions > li:not(:has(.this)) form button")
	back, _ := url.Parse(page.Location())
	if back.Path != "/account/sessions" || back.Query().Get("cursor") != page2.Query().Get("cursor") || back.Query().Get("notice") != "session_ended" {
		t.Fatalf("after ending a session on page 2: %s, want page 2 with the notice", page.Location())
	}
	if n := page.Count("ul.sessions > li"); n != 4 {
		t.Errorf("page 2 lists %d sessions after ending one, want 4", n)
	}
	page.Submit("form[action='/account/sessions/end-others'] button")
	if n := page.Count("ul.sessions > li"); n != 1 || page.Has(".pager") {
		t.Errorf("after signing out all others: %d sessions, pager %v", n, page.Has(".pager"))
	}
}
