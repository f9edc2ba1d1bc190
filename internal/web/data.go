package web

import (
	"net/http"

	"github.com/usersvc/usersvc/internal/user"
)

// export downloads the account's data: the API's export document,
// streamed. A POST (the account page's button), so that no other site can
// make a browser start one.
func (p *Pages) export(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if err := p.allowExport(r, c); err != nil {
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, "error.rate_limited")
		return
	}
	x, err := p.users.Export(p.client(r), c.User)
	if err != nil {
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, "error.unavailable")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="usersvc-export.json"`)
	if err := p.opts.WriteExport(w, x); err != nil {
		// The 200 is sent: breaking the response off is the only way left
		// to tell the browser the file is incomplete.
		p.log.ErrorContext(r.Context(), "export broken off", "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}

func deleteView(c user.Caller) (view, *form) {
	f := &form{Action: "/account/delete", Submit: "delete.submit", Danger: true, Fields: []*field{
		passwordField("hint.delete_password"),
	}}
	return view{Page: "form", Title: "delete.title", Intro: "delete.intro", Form: f, Me: &c.User,
		Links: []link{{afterSignIn, "continue_account"}}}, f
}

func (p *Pages) deletePage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	v, _ := deleteView(c)
	p.render(w, r, http.StatusOK, v)
}

// deleteAccount deletes the account once the password is given again
// (the re-authentication rule), and the browser's session with it.
func (p *Pages) deleteAccount(w http.ResponseWriter, r *http.Request, c user.Caller) {
	password := r.PostFormValue("current_password")
	v, f := deleteView(c)
	if missing(p, f, map[string]string{"current_password": password}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Password, c, perSession); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	ctx := p.client(r)
	if err := p.users.Reauthenticate(ctx, c, password); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	c, err := p.current(r) // re-read: the session is authenticated now
	if err == nil {
		err = p.users.Delete(ctx, c)
	}
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	p.endBrowserSession(w)
	redirect(w, withNotice("/sign-in", "deleted"))
}
