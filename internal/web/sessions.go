package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// sessionsView lists a page of c's live sessions (DefaultSessionPage of
// them, from the query's cursor: the API's), each with a button that ends
// it, the links to the other pages, and a button that ends every other
// session, whichever page it is on.
func (p *Pages) sessionsView(w http.ResponseWriter, r *http.Request, c user.Caller, status int, notice string, fail error) {
	q := sessionsQuery(r)
	after, ok := user.ParseSessionCursor(q.Get("cursor"))
	if !ok {
		p.render(w, r, http.StatusBadRequest, view{Page: "message", Title: errorTitle("invalid.cursor"), Intro: "invalid.cursor",
			Links: []link{{Href: sessionsPath, Label: "sessions.first"}}, Me: &c.User})
		return
	}
	list, next, err := p.users.Sessions(r.Context(), c.User.ID, after, user.DefaultSessionPage)
	if err != nil {
		st, _, _ := p.explain(r, err)
		p.errorPage(w, r, st, "error.unavailable")
		return
	}
	var cursor string
	if next != nil {
		cursor = next.Cursor()
	}
	f := &form{Action: sessionsPath + "/end-others", Submit: "sessions.end_others", Danger: true}
	v := view{Page: "sessions", Title: "sessions.title", Intro: "sessions.intro", Notice: notice,
		Current: c.Session.ID, Form: f, Me: &c.User,
		Pager: newPager(sessionsPath, q, cursor), Here: query(q),
		Others: len(list) > 1 || after != nil || next != nil}
	v.Pager.Label = "sessions.pages"
	v.Sessions = sessionRows(list, (v.Pager.Number-1)*user.DefaultSessionPage+1)
	if v.Pager.Number > 1 {
		v.Title, v.TitleArg = "sessions.title_page", strconv.Itoa(v.Pager.Number)
	}
	if fail != nil {
		p.fail(w, r, v, f, fail)
		return
	}
	p.render(w, r, status, v)
}

// sessionRow is a listed session with its place in the list, from 1
// across the pages: what tells apart, in the names of their buttons,
// sessions of one device and address begun in one minute.
type sessionRow struct {
	user.Session
	N int
}

// sessionRows are list's rows, its first numbered first.
func sessionRows(list []user.Session, first int) []sessionRow {
	rows := make([]sessionRow, len(list))
	for i, s := range list {
		rows[i] = sessionRow{Session: s, N: first + i}
	}
	return rows
}

// sessionsPath is the sessions page.
const sessionsPath = "/account/sessions"

// sessionsQuery is the page of the sessions r is on or came from: its
// cursor and the trail of the earlier pages' (newPager), nothing else.
func sessionsQuery(r *http.Request) url.Values {
	q := url.Values{}
	for _, k := range []string{"cursor", "prev"} {
		if vs := r.URL.Query()[k]; len(vs) > 0 {
			q[k] = vs
		}
	}
	return q
}

// query is q as a URL's query, "?" and all; "" for none.
func query(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// backToSessions is the page of the sessions r came from, with notice.
func backToSessions(r *http.Request, notice string) string {
	q := sessionsQuery(r)
	q.Set("notice", notice)
	return sessionsPath + query(q)
}

func (p *Pages) sessionsPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	p.sessionsView(w, r, c, http.StatusOK, notice(r), nil)
}

// endSession signs out one session of c's (this one too, if asked).
func (p *Pages) endSession(w http.ResponseWriter, r *http.Request, c user.Caller) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		p.sessionsView(w, r, c, 0, "", user.ErrSessionNotFound)
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Write, c, perSession); err != nil {
		p.sessionsView(w, r, c, 0, "", err)
		return
	}
	if err := p.users.RevokeSession(p.client(r), c.User.ID, id); err != nil {
		p.sessionsView(w, r, c, 0, "", err)
		return
	}
	if id == c.Session.ID {
		p.endBrowserSession(w)
		redirect(w, withNotice("/sign-in", "signed_out"))
		return
	}
	redirect(w, backToSessions(r, "session_ended"))
}

func (p *Pages) endOtherSessions(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if err := p.allowWrite(r, p.opts.Limits.Write, c, perSession); err != nil {
		p.sessionsView(w, r, c, 0, "", err)
		return
	}
	if err := p.users.LogoutOthers(p.client(r), c); err != nil {
		p.sessionsView(w, r, c, 0, "", err)
		return
	}
	redirect(w, withNotice(sessionsPath, "others_ended"))
}
