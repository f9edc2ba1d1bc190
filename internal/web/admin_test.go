package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// The admin console: administrators only, the search by any part of a
// name, complete paging, the actions and the last-administrator rule, the
// audit log and its filters.

// adminSite is a site with an administrator "root" signed in on the
// returned browser.
func adminSite(t *testing.T, kind string) (*site, *browser, user.User) {
	t.Helper()
	s := newSite(t, kind)
	root, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: password}, "Root Admin")
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("root", password, "/account")
	return s, b, root
}

// named registers name with full name full, set by the administrator admin.
func (s *site) named(admin user.User, name, full string) user.User {
	s.t.Helper()
	u := s.account(name)
	u, err := s.App.Service().AdminUpdate(s.t.Context(), user.Caller{User: admin}, u.ID, user.Patch{FullName: &full})
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

var (
	rowLink  = regexp.MustCompile(`<th scope="row"><a href="/admin/users/([0-9a-f-]{36})">([^<]*)</a></th>`)
	nextLink = regexp.MustCompile(`<a href="([^"]*)" rel="next">`)
	prevLink = regexp.MustCompile(`<a href="([^"]*)" rel="prev">`)
)

// listed is the usernames of a users page, in order.
func listed(body string) []string {
	var names []string
	for _, m := range rowLink.FindAllStringSubmatch(body, -1) {
		names = append(names, html.UnescapeString(m[2]))
	}
	return names
}

func TestAdminConsoleIsForAdministratorsOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, rootBrowser, root := adminSite(t, kind)
		bob := s.account("bob")
		if p := s.browser().get("/admin/users"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/sign-in?return_to=") {
			t.Errorf("signed out: %d to %q, want 303 to sign in", p.status, p.location())
		}
		b := s.browser()
		b.signIn("bob", password, "/account")
		for _, path := range []string{"/admin", "/admin/users", "/admin/users/" + root.ID.String(), "/admin/audit", "/admin/users/" + root.ID.String() + "/delete"} {
			if p := b.get(path); p.status != http.StatusForbidden || !strings.Contains(p.body, "This page is for administrators.") {
				t.Errorf("GET %s as a user: %d, want 403\n%s", path, p.status, p.body)
			}
		}
		for _, path := range []string{"/role", "/deactivate", "/delete"} {
			p := b.post("/admin/users/"+root.ID.String()+path, url.Values{"role": {"user"}, "confirm": {"yes"}})
			if p.status != http.StatusForbidden {
				t.Errorf("POST %s as a user: %d, want 403", path, p.status)
			}
		}
		if u, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: root}, root.ID, user.Patch{}); err != nil || !u.IsAdmin() || !u.IsActive {
			t.Fatalf("root after a user's posts: %+v, %v", u, err)
		}
		// The role as stored, read on every request: an administrator
		// demoted while signed in is refused on the next page.
		if p := rootBrowser.post("/admin/users/"+bob.ID.String()+"/role", url.Values{"role": {"admin"}, "current_password": {password}}); p.status != http.StatusSeeOther {
			t.Fatalf("make bob admin: %d\n%s", p.status, p.body)
		}
		if p := b.get("/admin/users"); p.status != http.StatusOK {
			t.Fatalf("bob made admin: %d", p.status)
		}
		if p := b.get("/account"); !strings.Contains(p.body, `href="/admin/users"`) {
			t.Errorf("an admin's nav has no link to the console")
		}
		if p := rootBrowser.post("/admin/users/"+bob.ID.String()+"/role", url.Values{"role": {"user"}, "current_password": {password}}); p.status != http.StatusSeeOther {
			t.Fatalf("demote bob: %d\n%s", p.status, p.body)
		}
		if p := b.get("/admin/users"); p.status != http.StatusForbidden {
			t.Errorf("bob demoted: %d, want 403", p.status)
		}
	})
}

func TestAdminConsoleSearchAndPaging(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root := adminSite(t, kind)
		var want []string
		for i := range 72 {
			name := "m" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if i%4 == 0 {
				s.named(root, name, "Someone Else")
				continue
			}
			s.named(root, name, "Member of the Needleman family")
			want = append(want, name)
		}
		s.named(root, "grace", "Grace Brewster Hopper")
		// The middle of a name, any case.
		p := b.get("/admin/users?search=" + url.QueryEscape("BREWST"))
		if p.status != http.StatusOK || strings.Join(listed(p.body), ",") != "grace" {
			t.Fatalf("search by the middle of a name: %d %q\n%s", p.status, listed(p.body), p.body)
		}
		if !strings.Contains(p.body, `value="BREWST"`) || !strings.Contains(p.body, `<caption id="users-caption">`) {
			t.Errorf("the page does not show the search and its caption")
		}
		// Every match exactly once, page by page, and back.
		var got []string
		path := "/admin/users?search=edlem"
		var pages []string
		for range 10 {
			p := b.get(path)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", path, p.status, p.body)
			}
			if !strings.Contains(p.body, `aria-current="page"`) {
				t.Errorf("page %d has no aria-current", len(pages)+1)
			}
			pages = append(pages, path)
			got = append(got, listed(p.body)...)
			m := nextLink.FindStringSubmatch(p.body)
			if m == nil {
				break
			}
			path = html.UnescapeString(m[1])
		}
		if len(pages) != 2 || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("the walk of %d pages listed %q, want %q", len(pages), got, want)
		}
		if len(pages) < 2 {
			t.FailNow()
		}
		last := b.get(pages[1])
		m := prevLink.FindStringSubmatch(last.body)
		if m == nil {
			t.Fatalf("the second page has no previous link\n%s", last.body)
		}
		if back := b.get(html.UnescapeString(m[1])); strings.Join(listed(back.body), ",") != strings.Join(want[:user.DefaultPageSize], ",") {
			t.Errorf("previous page = %q, want the first", listed(back.body))
		}
		// Short: the start of a field only; a control character is refused
		// on the field.
		if p := b.get("/admin/users?search=gr"); strings.Join(listed(p.body), ",") != "grace" {
			t.Errorf("search gr = %q, want grace", listed(p.body))
		}
		if p := b.get("/admin/users?search=%01ab"); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Errorf("a control character: %d, want 422 on the field\n%s", p.status, p.body)
		}
	})
}

func TestAdminConsoleActions(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root := adminSite(t, kind)
		bob := s.named(root, "bob", "Bob Builder")
		base := "/admin/users/" + bob.ID.String()
		if p := b.get(base); p.status != http.StatusOK || !strings.Contains(p.body, "Bob Builder") || !strings.Contains(p.body, base+"/deactivate") {
			t.Fatalf("detail: %d\n%s", p.status, p.body)
		}
		svc := s.App.Service()
		state := func() user.User {
			t.Helper()
			u, err := svc.AdminUpdate(t.Context(), user.Caller{User: root}, bob.ID, user.Patch{})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		// Deactivate: a confirmation page, then the post; a post without
		// the confirmation changes nothing.
		if p := b.get(base + "/deactivate"); p.status != http.StatusOK || !strings.Contains(p.body, "Deactivate this account?") {
			t.Fatalf("deactivate page: %d\n%s", p.status, p.body)
		}
		if p := b.post(base+"/deactivate", url.Values{}); p.status != http.StatusSeeOther || !state().IsActive {
			t.Fatalf("unconfirmed deactivate: %d, active %v", p.status, state().IsActive)
		}
		if p := b.post(base+"/deactivate", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther || state().IsActive {
			t.Fatalf("deactivate: %d, active %v\n%s", p.status, state().IsActive, p.body)
		}
		if p := b.get(base + "?notice=deactivated"); !strings.Contains(p.body, "The account is deactivated") || !strings.Contains(p.body, base+"/reactivate") {
			t.Errorf("after deactivation the page does not say so\n%s", p.body)
		}
		if p := b.post(base+"/reactivate", url.Values{}); p.status != http.StatusSeeOther || !state().IsActive {
			t.Fatalf("reactivate: %d", p.status)
		}
		if p := b.post(base+"/role", url.Values{"role": {"admin"}, "current_password": {password}}); p.status != http.StatusSeeOther || !state().IsAdmin() {
			t.Fatalf("make admin: %d", p.status)
		}
		if p := b.post(base+"/role", url.Values{"role": {"root"}, "current_password": {password}}); p.status != http.StatusUnprocessableEntity {
			t.Errorf("an unknown role: %d, want 422", p.status)
		}
		if p := b.get(base + "/delete"); p.status != http.StatusOK || !strings.Contains(p.body, "This cannot be undone") {
			t.Fatalf("delete page: %d", p.status)
		}
		if p := b.post(base+"/delete", url.Values{"confirm": {"yes"}, "current_password": {password}}); p.status != http.StatusSeeOther || p.location() != "/admin/users?notice=deleted" {
			t.Fatalf("delete: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if _, err := svc.AdminUpdate(t.Context(), user.Caller{User: root}, bob.ID, user.Patch{}); err == nil {
			t.Error("bob still exists after delete")
		}
		if p := b.get(base); p.status != http.StatusNotFound || !strings.Contains(p.body, "There is no such user") {
			t.Errorf("a deleted user's page: %d\n%s", p.status, p.body)
		}
	})
}

// The last active administrator can neither drop the role nor be
// deactivated or deleted: the page says why, and nothing changes.
func TestAdminConsoleLastAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root := adminSite(t, kind)
		base := "/admin/users/" + root.ID.String()
		const msg = "This would leave no active administrator"
		for _, tt := range []struct {
			path string
			form url.Values
		}{
			{"/role", url.Values{"role": {"user"}, "current_password": {password}}},
			{"/deactivate", url.Values{"confirm": {"yes"}}},
			{"/delete", url.Values{"confirm": {"yes"}, "current_password": {password}}},
		} {
			p := b.post(base+tt.path, tt.form)
			if p.status != http.StatusConflict || !strings.Contains(p.body, msg) || !strings.Contains(p.body, `role="alert"`) {
				t.Errorf("POST %s on the last admin: %d, want 409 with the message\n%s", tt.path, p.status, p.body)
			}
		}
		u, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: root}, root.ID, user.Patch{})
		if err != nil || !u.IsAdmin() || !u.IsActive {
			t.Errorf("root after the refusals: %+v, %v", u, err)
		}
	})
}

func TestAdminConsoleAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, _ := adminSite(t, kind)
		var ids []string
		for i := range 53 {
			ids = append(ids, s.account("u"+string(rune('a'+i%26))+string(rune('a'+i/26))).ID.String())
		}
		// Paging: every registration exactly once.
		seen := map[string]int{}
		path := "/admin/audit?kind=user.registered"
		pages := 0
		for range 10 {
			p := b.get(path)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", path, p.status, p.body)
			}
			pages++
			for _, m := range regexp.MustCompile(`<td>user.registered</td><td><a href="/admin/users/([0-9a-f-]{36})">`).FindAllStringSubmatch(p.body, -1) {
				seen[m[1]]++
			}
			m := nextLink.FindStringSubmatch(p.body)
			if m == nil {
				break
			}
			path = html.UnescapeString(m[1])
		}
		if pages != 2 {
			t.Errorf("%d pages, want 2", pages)
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("the registration of %s listed %d times, want once", id, seen[id])
			}
		}
		// Subject and window.
		p := b.get("/admin/audit?kind=user.registered&subject=" + ids[3])
		if n := strings.Count(p.body, `<th scope="row">`); n != 1 || !strings.Contains(p.body, "/admin/users/"+ids[3]) {
			t.Errorf("one subject: %d events, want its registration\n%s", n, p.body)
		}
		today := s.Clock.Now().UTC().Format("2006-01-02")
		if p := b.get("/admin/audit?kind=user.registered&subject=" + ids[3] + "&since=" + today + "&until=" + today); strings.Count(p.body, `<th scope="row">`) != 1 {
			t.Errorf("today's window: want the registration\n%s", p.body)
		}
		if p := b.get("/admin/audit?since=2001-01-01&until=2001-01-02"); strings.Count(p.body, `<th scope="row">`) != 0 || !strings.Contains(p.body, "No event matches.") {
			t.Errorf("a window long ago: want nothing\n%s", p.body)
		}
		// A cursor of the pages before the time order, an event id, still
		// goes on below that id.
		if p := b.get("/admin/audit?kind=user.registered&cursor=999999999"); p.status != http.StatusOK || strings.Count(p.body, `<th scope="row">`) != user.DefaultAuditPage {
			t.Errorf("an event id as the cursor: %d, want 200 and a full page\n%s", p.status, p.body)
		}
		for _, bad := range []string{"subject=nope", "since=yesterday", "cursor=-4", "cursor=AAAA", "kind=made.up"} {
			if p := b.get("/admin/audit?" + bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `role="alert"`) {
				t.Errorf("?%s: %d, want 422 with an alert", bad, p.status)
			}
		}
	})
}

// The console's changes of who controls an account (the role, deletion)
// ask the administrator's password again, on a labelled field that shows
// the refusal: a stolen page session alone changes neither. Deactivating
// (the answer to an incident) and reactivating do not ask it.
func TestAdminConsoleAsksThePasswordForRoleAndDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root := adminSite(t, kind)
		bob := s.named(root, "bob", "Bob Builder")
		base := "/admin/users/" + bob.ID.String()
		state := func() user.User {
			t.Helper()
			u, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: root}, bob.ID, user.Patch{})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		for _, page := range []string{base, base + "/delete"} {
			if p := b.get(page); !strings.Contains(p.body, `<label for="f-current_password">`) || !strings.Contains(p.body, `autocomplete="current-password"`) {
				t.Errorf("GET %s has no labelled current password field\n%s", page, p.body)
			}
		}
		for _, tt := range []struct {
			name, path string
			form       url.Values
			status     int
		}{
			{"role without the password", "/role", url.Values{"role": {"admin"}}, http.StatusForbidden},
			{"role with a wrong password", "/role", url.Values{"role": {"admin"}, "current_password": {"not the password"}}, http.StatusUnauthorized},
			{"delete without the password", "/delete", url.Values{"confirm": {"yes"}}, http.StatusForbidden},
			{"delete with a wrong password", "/delete", url.Values{"confirm": {"yes"}, "current_password": {"not the password"}}, http.StatusUnauthorized},
		} {
			p := b.post(base+tt.path, tt.form)
			if p.status != tt.status || !strings.Contains(p.body, `id="f-current_password-error"`) || !strings.Contains(p.body, `aria-invalid="true" aria-describedby="f-current_password-hint f-current_password-error"`) {
				t.Errorf("%s: %d, want %d with the error on the password field\n%s", tt.name, p.status, tt.status, p.body)
			}
			if u := state(); u.IsAdmin() {
				t.Fatalf("%s: bob became an administrator", tt.name)
			}
		}
		if p := b.post(base+"/deactivate", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther || state().IsActive {
			t.Errorf("deactivate without the password: %d, active %v", p.status, state().IsActive)
		}
		if p := b.post(base+"/reactivate", url.Values{}); p.status != http.StatusSeeOther || !state().IsActive {
			t.Errorf("reactivate without the password: %d", p.status)
		}
	})
}

// Reactivating an administrator makes an active administrator again, as
// the role form does: the console asks the administrator's password for
// it (found by a review: one click with a page session alone brought back
// a deactivated administrator whose password its holder knew); a user's
// reactivation stays one click.
func TestAdminConsoleAsksThePasswordToReactivateAnAdministrator(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root := adminSite(t, kind)
		other, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "other@example.com", Username: "other", Password: password}, "")
		if err != nil {
			t.Fatal(err)
		}
		base := "/admin/users/" + other.ID.String()
		active := func() bool {
			t.Helper()
			u, err := s.App.Service().AdminUpdate(t.Context(), user.Caller{User: root}, other.ID, user.Patch{})
			if err != nil {
				t.Fatal(err)
			}
			return u.IsActive
		}
		if p := b.post(base+"/deactivate", url.Values{"confirm": {"yes"}}); p.status != http.StatusSeeOther || active() {
			t.Fatalf("deactivate the other administrator: %d\n%s", p.status, p.body)
		}
		if p := b.get(base); !strings.Contains(p.body, `<label for="f-reactivate-current_password">`) {
			t.Errorf("an inactive administrator's page has no labelled password field to reactivate\n%s", p.body)
		}
		for _, tt := range []struct {
			name   string
			form   url.Values
			status int
		}{
			{"without the password", url.Values{}, http.StatusForbidden},
			{"with a wrong password", url.Values{"current_password": {"not the password"}}, http.StatusUnauthorized},
		} {
			p := b.post(base+"/reactivate", tt.form)
			if p.status != tt.status || !strings.Contains(p.body, `id="f-reactivate-current_password-error"`) {
				t.Errorf("reactivate %s: %d, want %d with the error on its password field\n%s", tt.name, p.status, tt.status, p.body)
			}
			if active() {
				t.Fatalf("reactivate %s: the administrator is active again", tt.name)
			}
		}
		if p := b.post(base+"/reactivate", url.Values{"current_password": {password}}); p.status != http.StatusSeeOther || !active() {
			t.Errorf("reactivate with the password: %d, active %v\n%s", p.status, active(), p.body)
		}
	})
}
