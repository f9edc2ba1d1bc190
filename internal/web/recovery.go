package web

import (
	"net/http"
	"strings"
)

func (p *Pages) forgotView(email string) (view, *form) {
	f := &form{Action: "/forgot-password", Submit: "forgot.submit", Fields: []*field{
		{Name: "email", Type: "email", Autocomplete: "email", Label: "field.email", Value: email},
	}}
	return view{Page: "form", Title: "forgot.title", Intro: "forgot.intro", Form: f, Links: []link{{"/sign-in", "continue_sign_in"}}}, f
}

func (p *Pages) forgotPage(w http.ResponseWriter, r *http.Request) {
	v, _ := p.forgotView("")
	p.render(w, r, http.StatusOK, v)
}

// forgot asks the service for a reset mail; the answer is the same
// whether or not an account has the address.
func (p *Pages) forgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	v, f := p.forgotView(email)
	if missing(p, f, map[string]string{"email": email}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allowReset(r, email); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	if err := p.users.RequestPasswordReset(p.client(r), email); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	p.render(w, r, http.StatusOK, view{Page: "message", Title: "forgot.done.title", Intro: "forgot.done.body"})
}

func (p *Pages) resetView(token string) (view, *form) {
	f := &form{Action: "/reset-password", Submit: "reset.submit", Hidden: []hidden{{"token", token}}, Fields: []*field{
		{Name: "password", Type: "password", Autocomplete: "new-password", Label: "field.new_password", Hint: "hint.new_password"},
	}}
	return view{Page: "form", Title: "reset.title", Form: f}, f
}

// resetPage is where the reset mail's link lands: a form, so that opening
// the link uses nothing up.
func (p *Pages) resetPage(w http.ResponseWriter, r *http.Request) {
	v, _ := p.resetView(r.URL.Query().Get("token"))
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) reset(w http.ResponseWriter, r *http.Request) {
	token, password := r.PostFormValue("token"), r.PostFormValue("password")
	v, f := p.resetView(token)
	if missing(p, f, map[string]string{"password": password}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allow(r, p.opts.Limits.Write); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	device, err := p.users.ResetPassword(p.client(r), token, password)
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	// The link reached the owner: this browser signs in past a lockout.
	p.keepDevice(w, device)
	redirect(w, withNotice("/sign-in", "password_reset"))
}
