package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// endAction is a sessions page's form that ends one session (nextLink,
// prevLink: admin_test.go).
var endAction = regexp.MustCompile(`<form method="post" action="(/account/sessions/([0-9a-f-]{36})/end[^"]*)"`)

// sessionsOn is the sessions a sessions page lists (id to its form's
// action) and its next and previous links ("" for none).
func sessionsOn(t *testing.T, p page) (ids map[string]string, next, prev string) {
	t.Helper()
	if p.status != http.StatusOK {
		t.Fatalf("sessions page: %d\n%s", p.status, p.body)
	}
	ids = map[string]string{}
	for _, m := range endAction.FindAllStringSubmatch(p.body, -1) {
		ids[m[2]] = html.UnescapeString(m[1])
	}
	if m := nextLink.FindStringSubmatch(p.body); m != nil {
		next = html.UnescapeString(m[1])
	}
	if m := prevLink.FindStringSubmatch(p.body); m != nil {
		prev = html.UnescapeString(m[1])
	}
	return ids, next, prev
}

// An account with more sessions than one page shows (the cap allows up to
// 10,000) sees every one of them, a page at a time, can end one on a
// later page (a cross-site post still refused), and signs out all the
// others from any page.
func TestSessionsPagePagesThroughEverySession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind, apptest.Env("USERSVC_MAX_SESSIONS_PER_USER", "1000"))
		s.account("ada")
		total := user.MaxSessionPage + 21 // more than the page ever showed
		for range total - 1 {
			if _, err := s.App.Service().Login(context.Background(), "ada", password, ""); err != nil {
				t.Fatalf("login: %v", err)
			}
		}
		b := s.browser()
		b.signIn("ada", password, "/account")

		seen, pages := map[string]string{}, []string{}
		for path := "/account/sessions"; path != ""; {
			pages = append(pages, path)
			p := b.get(path)
			ids, next, _ := sessionsOn(t, p)
			want := `<span aria-current="page">Page ` + strconv.Itoa(len(pages)) + `</span>`
			if !strings.Contains(p.body, want) && (len(pages) > 1 || next != "") {
				t.Errorf("page %d does not say where it is (%s)\n%s", len(pages), want, p.body)
			}
			if !strings.Contains(p.body, ">Sign out all other sessions</button>") {
				t.Errorf("page %d has no \"sign out all other sessions\"", len(pages))
			}
			for id, action := range ids {
				if _, again := seen[id]; again {
					t.Errorf("session %s on two pages", id)
				}
				seen[id] = action
			}
			if path = next; len(pages) > total {
				t.Fatalf("more pages than sessions")
			}
		}
		if len(seen) != total || len(pages) < 2 {
			t.Fatalf("the pages list %d sessions on %d pages, want %d on several", len(seen), len(pages), total)
		}
		if _, ok := seen[b.sessionID().String()]; !ok {
			t.Errorf("this session is on no page")
		}

		// End one on page 2: from its own form, which brings the user back there.
		ids, _, prev := sessionsOn(t, b.get(pages[1]))
		if prev == "" {
			t.Errorf("page 2 has no link back")
		}
		var victim, action string
		for id, a := range ids {
			if id != b.sessionID().String() {
				victim, action = id, a
				break
			}
		}
		if p := b.post(action, nil, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("a cross-site post to end a session on page 2: %d, want 403", p.status)
		}
		if ids, _, _ := sessionsOn(t, b.get(pages[1])); ids[victim] == "" {
			t.Fatalf("the cross-site post ended session %s", victim)
		}
		p := b.post(action, nil)
		back, _ := url.Parse(p.location())
		page2, _ := url.Parse(pages[1])
		if p.status != http.StatusSeeOther || back.Path != page2.Path || back.Query().Get("cursor") != page2.Query().Get("cursor") ||
			back.Query().Get("notice") != "session_ended" {
			t.Fatalf("end one on page 2: %d to %q, want 303 back to %q", p.status, p.location(), pages[1])
		}
		after := b.get(p.location())
		if ids, _, _ := sessionsOn(t, after); ids[victim] != "" || len(ids) == 0 {
			t.Errorf("page 2 after ending %s lists %d sessions", victim, len(ids))
		}
		if !strings.Contains(after.body, "Page 2") {
			t.Errorf("back on page 2 without saying so\n%s", after.body)
		}

		// Sign out all others from page 2: every other one ends, on every page.
		if p := b.post("/account/sessions/end-others", nil); p.status != http.StatusSeeOther {
			t.Fatalf("end others: %d", p.status)
		}
		ids, next, _ := sessionsOn(t, b.get("/account/sessions"))
		if len(ids) != 1 || ids[b.sessionID().String()] == "" || next != "" {
			t.Errorf("after signing out all others: %d sessions, next %q", len(ids), next)
		}
	})
}

// A page link whose cursor is no cursor is refused with a way back, not
// an error of the service.
func TestSessionsPageRefusesABrokenCursor(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		p := b.get("/account/sessions?cursor=not-a-cursor")
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, `href="/account/sessions"`) {
			t.Errorf("a broken cursor: %d\n%s", p.status, p.body)
		}
	})
}
