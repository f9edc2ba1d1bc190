package web

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// sessionsView lists c's live sessions, each with a button that ends it,
// and one that ends every other.
func (p *Pages) sessionsView(w http.ResponseWriter, r *http.Request, c user.Caller, status int, notice string, fail error) {
	list, _, err := p.users.Sessions(r.Context(), c.User.ID, nil, user.MaxSessionPage)
	if err != nil {
		st, _, _ := p.explain(r, err)
		p.errorPage(w, r, st, "error.unavailable")
		return
	}
	f := &form{Action: "/account/sessions/end-others", Submit: "sessions.end_others", Danger: true}
	v := view{Page: "sessions", Title: "sessions.title", Intro: "sessions.intro", Notice: notice,
		Sessions: list, Current: c.Session.ID, Form: f, Me: &c.User}
	if fail != nil {
		p.fail(w, r, v, f, fail)
		return
	}
	p.render(w, r, status, v)
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
	redirect(w, withNotice("/account/sessions", "session_ended"))
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
	redirect(w, withNotice("/account/sessions", "others_ended"))
}
