package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The admin console (/admin/...): the users list with its search, a
// user's detail with its actions, the audit log. Only for a caller who is
// an active administrator as stored (Resume re-reads the account on every
// request); the service checks the role again. Every action is a POST of
// the same origin; the destructive ones (deactivate, delete) pass through
// a confirmation page first. The changes of who controls an account (the
// role, deletion, reactivating an administrator) ask the administrator's
// current password again (reauthenticated, as the client pages do): a
// stolen page session alone must not take over an account; deactivating
// and reactivating anyone else do not.

// admin is signedIn for administrators only: anyone else gets a 403 page.
// Under USERSVC_REQUIRE_MFA_FOR=admin (or all) an administrator without a
// second factor is sent to enrol one first (a passkey), and one whose
// page session was opened without it is asked to sign in again with it:
// the session's amr, which Resume reads, tells them apart.
func (p *Pages) admin(h func(http.ResponseWriter, *http.Request, user.Caller)) http.HandlerFunc {
	return p.signedIn(func(w http.ResponseWriter, r *http.Request, c user.Caller) {
		if !c.User.IsAdmin() || !c.User.IsActive {
			p.errorPage(w, r, http.StatusForbidden, "error.admin_only")
			return
		}
		if p.assure(w, r, c, true) {
			h(w, r, c)
		}
	})
}

// assure applies the MFA policy to c on a page (admin: one of the
// console's) as the API's assured does on a route, and says whether the
// page may go on; when not, it has answered: an account without a second
// factor is sent to enrol one, a session opened without the account's
// second factor gets a 403 page asking to sign in again with it.
func (p *Pages) assure(w http.ResponseWriter, r *http.Request, c user.Caller, admin bool) bool {
	switch err := p.users.RequireAssurance(p.client(r), c, admin); {
	case errors.Is(err, user.ErrMFAEnrolmentRequired):
		redirect(w, withNotice(mfaEnrolPath, "mfa_enrol"))
	case errors.Is(err, user.ErrMFALoginRequired):
		p.errorPage(w, r, http.StatusForbidden, "error.mfa_login_required")
	case err != nil:
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, "error.unavailable")
	default:
		return true
	}
	return false
}

// mfaEnrolPath is where an account without a second factor is sent when
// the policy asks for one: the authenticator app page (mfa_pages.go),
// next to the passkeys page in the nav.
const mfaEnrolPath = mfaPath

// adminNotices are the ?notice= values of the console's pages.
var adminNotices = map[string]string{
	"deactivated": "admin.notice.deactivated", "reactivated": "admin.notice.reactivated",
	"role_changed": "admin.notice.role_changed", "deleted": "admin.notice.deleted",
}

// maxTrail is how many earlier pages a listing's "previous" links
// remember (in the URL); further back, "first page" still leads there.
const maxTrail = 20

// pager is the paging of a listing: the cursors of the earlier pages
// (trail, oldest first; "" is the first page), and the links it makes.
type pager struct {
	Prev, Next, First string // hrefs, "" for none
	Number            int    // this page's number, from 1
	Label             string // the catalogue key of its name; "": pager.label
}

// newPager makes the links of a page of path whose query q (filters,
// cursor, prev) it keeps; next is the cursor of the following page, ""
// for none.
func newPager(path string, q url.Values, next string) pager {
	trail := q["prev"]
	cursor := q.Get("cursor")
	href := func(cursor string, trail []string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "cursor" && k != "prev" && k != "notice" {
				v[k] = vs
			}
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		if len(trail) > 0 {
			v["prev"] = trail
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	pg := pager{Number: len(trail) + 1}
	if cursor != "" {
		pg.First = href("", nil)
		if len(trail) > 0 {
			pg.Prev = href(trail[len(trail)-1], trail[:len(trail)-1])
		} else {
			pg.Prev = pg.First
		}
	}
	if next != "" {
		t := append(slices.Clone(trail), cursor)
		if len(t) > maxTrail {
			t = t[len(t)-maxTrail:]
		}
		pg.Next = href(next, t)
	}
	return pg
}

// adminUsersPage lists the users matching ?search=, a page at a time.
func (p *Pages) adminUsersPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("search"))
	f := &form{Action: "/admin/users", Submit: "admin.users.search_submit",
		Fields: []*field{{Name: "search", Type: "search", Autocomplete: "off", Label: "admin.users.search", Hint: "admin.users.search_hint", Value: search, Optional: true}}}
	v := view{Page: "admin_users", Title: "admin.users.title", Notice: adminNotices[q.Get("notice")], Form: f, Me: &c.User}
	page, err := p.users.ListUsers(p.client(r), c.User, user.Filter{Search: search}, user.Page{Cursor: q.Get("cursor")})
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	v.Users = page.Users
	v.Pager = newPager("/admin/users", q, page.Next)
	p.render(w, r, http.StatusOK, v)
}

// adminTarget is the user of the path's {id}, read through the service
// as the administrator c; false when it rendered an error page.
func (p *Pages) adminTarget(w http.ResponseWriter, r *http.Request, c user.Caller) (user.User, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		p.errorPage(w, r, http.StatusNotFound, "error.user_not_found")
		return user.User{}, false
	}
	u, err := p.users.AdminUpdate(p.client(r), c, id, user.Patch{})
	if err != nil {
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, refusalKey(err))
		return user.User{}, false
	}
	return u, true
}

// refusalKey is the catalogue key refusals gives err, error.internal for
// an error it does not know.
func refusalKey(err error) string {
	for _, rf := range refusals {
		if errors.Is(err, rf.err) {
			return rf.key
		}
	}
	return "error.internal"
}

// adminUserView is a user's detail page with its actions: the role form
// (with the administrator's password) and, for an inactive user, the
// reactivate form (deactivate and delete are links to their confirmation
// pages). fail shows on the form of the action that failed.
func (p *Pages) adminUserView(w http.ResponseWriter, r *http.Request, c user.Caller, u user.User, status int, notice string, fail error) {
	base := "/admin/users/" + u.ID.String()
	role := &form{Action: base + "/role", Submit: "admin.user.make_admin",
		Hidden: []hidden{{Name: "role", Value: string(user.RoleAdmin)}}}
	if u.IsAdmin() {
		role = &form{Action: base + "/role", Submit: "admin.user.make_user",
			Hidden: []hidden{{Name: "role", Value: string(user.RoleUser)}}}
	}
	role.Fields = []*field{passwordField("admin.user.role_password_hint")}
	reactivate := &form{Action: base + "/reactivate", Submit: "admin.user.reactivate"}
	if u.IsAdmin() { // an active administrator again: the password, as for the role
		pw := passwordField("admin.user.reactivate_password_hint")
		pw.ID = "f-reactivate-current_password"
		reactivate.Fields = []*field{pw}
	}
	v := view{Page: "admin_user", Title: "admin.user.title", Notice: notice, Subject: &u, Me: &c.User,
		Form: role, Forms: []*form{reactivate}, Audit: "/admin/audit?subject=" + u.ID.String()}
	if fail != nil {
		target := role
		if strings.HasSuffix(r.URL.Path, "/reactivate") {
			target = reactivate
		}
		p.fail(w, r, v, target, fail)
		return
	}
	p.render(w, r, status, v)
}

func (p *Pages) adminUserPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if u, ok := p.adminTarget(w, r, c); ok {
		p.adminUserView(w, r, c, u, http.StatusOK, adminNotices[r.URL.Query().Get("notice")], nil)
	}
}

// confirmation is the page asking to confirm action on u: a POST form to
// the same path, which asks the administrator's password again when
// passwordHint is not "" (says why).
func (p *Pages) confirmation(w http.ResponseWriter, r *http.Request, c user.Caller, u user.User, title, intro, submit, passwordHint string, fail error) {
	f := &form{Action: r.URL.Path, Submit: submit, Danger: true, Hidden: []hidden{{Name: "confirm", Value: "yes"}}}
	if passwordHint != "" {
		f.Fields = []*field{passwordField(passwordHint)}
	}
	v := view{Page: "admin_confirm", Title: title, Intro: intro, Subject: &u, Me: &c.User, Form: f,
		Links: []link{{Href: "/admin/users/" + u.ID.String(), Label: "admin.confirm.cancel"}}}
	p.show(w, r, v, f, fail)
}

func (p *Pages) adminDeactivatePage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if u, ok := p.adminTarget(w, r, c); ok {
		p.confirmation(w, r, c, u, "admin.deactivate.title", "admin.deactivate.intro", "admin.user.deactivate", "", nil)
	}
}

func (p *Pages) adminDeletePage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if u, ok := p.adminTarget(w, r, c); ok {
		p.confirmation(w, r, c, u, "admin.delete.title", "admin.delete.intro", "admin.user.delete", "admin.delete.password_hint", nil)
	}
}

// adminChange applies patch to the path's user and goes back to its page
// with notice; a refusal (the last administrator, a wrong password) shows
// on the page (confirmed actions: on their confirmation page). A
// sensitive change (the role, reactivating an administrator) first
// checks the form's current password (reauthenticated); the other
// activations do not, so that deactivating stays quick.
func (p *Pages) adminChange(w http.ResponseWriter, r *http.Request, c user.Caller, patch user.Patch, notice string, confirmed, sensitive bool) {
	u, ok := p.adminTarget(w, r, c)
	if !ok {
		return
	}
	if confirmed && r.PostFormValue("confirm") != "yes" {
		redirect(w, r.URL.Path)
		return
	}
	var err error
	if sensitive || user.RevivesAdmin(u, patch) {
		c, err = p.reauthenticated(r, c)
	}
	if err == nil {
		err = p.allowWrite(r, p.opts.Limits.Write, c, perAccount)
	}
	if err == nil {
		_, err = p.users.AdminUpdate(p.client(r), c, u.ID, patch)
	}
	if err != nil {
		if confirmed {
			p.confirmation(w, r, c, u, "admin.deactivate.title", "admin.deactivate.intro", "admin.user.deactivate", "", err)
			return
		}
		p.adminUserView(w, r, c, u, 0, "", err)
		return
	}
	redirect(w, withNotice("/admin/users/"+u.ID.String(), notice))
}

func (p *Pages) adminDeactivate(w http.ResponseWriter, r *http.Request, c user.Caller) {
	off := false
	p.adminChange(w, r, c, user.Patch{IsActive: &off}, "deactivated", true, false)
}

func (p *Pages) adminReactivate(w http.ResponseWriter, r *http.Request, c user.Caller) {
	on := true
	p.adminChange(w, r, c, user.Patch{IsActive: &on}, "reactivated", false, false)
}

func (p *Pages) adminRole(w http.ResponseWriter, r *http.Request, c user.Caller) {
	role := user.Role(r.PostFormValue("role"))
	p.adminChange(w, r, c, user.Patch{Role: &role}, "role_changed", false, true)
}

func (p *Pages) adminDelete(w http.ResponseWriter, r *http.Request, c user.Caller) {
	u, ok := p.adminTarget(w, r, c)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		redirect(w, r.URL.Path)
		return
	}
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.allowWrite(r, p.opts.Limits.Write, c, perAccount)
	}
	if err == nil {
		err = p.users.AdminDelete(p.client(r), c, u.ID)
	}
	if err != nil {
		p.confirmation(w, r, c, u, "admin.delete.title", "admin.delete.intro", "admin.user.delete", "admin.delete.password_hint", err)
		return
	}
	redirect(w, withNotice("/admin/users", "deleted"))
}

// dateLayout is the value of an <input type="date">.
const dateLayout = "2006-01-02"

// adminAuditPage lists the audit log, newest first, filtered by kind,
// subject (a user's id) and a window of days (UTC, both days included).
func (p *Pages) adminAuditPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	q := r.URL.Query()
	filters := auditFilters{Kind: q.Get("kind"), Subject: strings.TrimSpace(q.Get("subject")), Since: q.Get("since"), Until: q.Get("until")}
	for _, k := range p.users.AuditKinds() {
		filters.Kinds = append(filters.Kinds, string(k))
	}
	v := view{Page: "admin_audit", Title: "admin.audit.title", Me: &c.User, Filters: &filters}
	f := user.AuditFilter{Limit: user.DefaultAuditPage}
	if filters.Kind != "" {
		f.Kinds = []user.AuditKind{user.AuditKind(filters.Kind)}
	}
	if filters.Subject != "" {
		id, err := uuid.Parse(filters.Subject)
		if err != nil {
			filters.Error = "admin.audit.bad_subject"
		}
		f.SubjectID = id
	}
	if filters.Since != "" {
		t, err := time.Parse(dateLayout, filters.Since)
		if err != nil {
			filters.Error = "admin.audit.bad_date"
		}
		f.Since = t
	}
	if filters.Until != "" {
		t, err := time.Parse(dateLayout, filters.Until)
		if err != nil {
			filters.Error = "admin.audit.bad_date"
		}
		f.Until = t.AddDate(0, 0, 1)
	}
	if cur := q.Get("cursor"); cur != "" {
		c, err := parseAuditCursor(cur)
		if err != nil {
			filters.Error = "admin.audit.bad_cursor"
		}
		f.BeforeAt, f.BeforeID = c.At, c.ID
	}
	if filters.Error != "" {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	page, err := p.users.AuditEvents(p.client(r), c.User, f)
	if err != nil {
		status, text, _ := p.explain(r, err)
		filters.ErrorText = text
		p.render(w, r, status, v)
		return
	}
	v.Events = page.Events
	next := ""
	if page.Next.ID != 0 {
		next = page.Next.String()
	}
	v.Pager = newPager("/admin/audit", q, next)
	p.render(w, r, http.StatusOK, v)
}

// parseAuditCursor reads an audit page's cursor: a user.AuditCursor, or
// the event id of the pages' links before the listing in time order, which
// goes on in id order (user.Service.AuditEvents).
func parseAuditCursor(s string) (user.AuditCursor, error) {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id <= 0 {
			return user.AuditCursor{}, user.ErrBadAuditCursor
		}
		return user.AuditCursor{ID: id}, nil
	}
	return user.ParseAuditCursor(s)
}

// auditFilters are the audit page's filter form: its values, the kinds to
// choose from, and an error (a catalogue key, or the service's text).
type auditFilters struct {
	Kind, Subject, Since, Until string
	Kinds                       []string
	Error, ErrorText            string
}
