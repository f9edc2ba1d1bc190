package web

import (
	"context"
	"net/http"
)

// The pages the other mailed links land on. Opening one shows a button
// that posts the token: mail scanners that fetch every link in a message
// use up nothing.

// tokenAction is a page of one button that posts a mailed token.
type tokenAction struct {
	path, title, intro, submit string
	doneTitle, doneBody        string
	do                         func(ctx context.Context, token string) error
	// ends says the action ends every session: the browser's cookie goes.
	ends bool
}

func (p *Pages) verifyAction() tokenAction {
	return tokenAction{path: "/verify-email", title: "verify.title", intro: "verify.intro", submit: "verify.submit",
		doneTitle: "verify.done.title", doneBody: "verify.done.body",
		do: func(ctx context.Context, token string) error { _, err := p.users.VerifyEmail(ctx, token); return err }}
}

func (p *Pages) undoAction() tokenAction {
	return tokenAction{path: "/undo-email-change", title: "undo.title", intro: "undo.intro", submit: "undo.submit",
		doneTitle: "undo.done.title", doneBody: "undo.done.body", do: p.users.UndoEmailChange, ends: true}
}

func (a tokenAction) view(token string) (view, *form) {
	f := &form{Action: a.path, Submit: a.submit, Hidden: []hidden{{"token", token}}}
	return view{Page: "form", Title: a.title, Intro: a.intro, Form: f}, f
}

func (p *Pages) verifyPage(w http.ResponseWriter, r *http.Request) {
	p.tokenPage(w, r, p.verifyAction())
}
func (p *Pages) verify(w http.ResponseWriter, r *http.Request)   { p.useToken(w, r, p.verifyAction()) }
func (p *Pages) undoPage(w http.ResponseWriter, r *http.Request) { p.tokenPage(w, r, p.undoAction()) }
func (p *Pages) undo(w http.ResponseWriter, r *http.Request)     { p.useToken(w, r, p.undoAction()) }

func (p *Pages) tokenPage(w http.ResponseWriter, r *http.Request, a tokenAction) {
	v, _ := a.view(r.URL.Query().Get("token"))
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) useToken(w http.ResponseWriter, r *http.Request, a tokenAction) {
	token := r.PostFormValue("token")
	v, f := a.view(token)
	if err := p.allow(r, p.opts.Limits.Write); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	if err := a.do(p.client(r), token); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	next := link{"/sign-in", "continue_sign_in"}
	if a.ends {
		p.endBrowserSession(w)
	} else if _, _, ok := p.Current(r); ok {
		next = link{afterSignIn, "continue_account"}
	}
	p.render(w, r, http.StatusOK, view{Page: "message", Title: a.doneTitle, Intro: a.doneBody, Links: []link{next}})
}
