package web

import (
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/user"
)

func (p *Pages) signUpView(email, username string) (view, *form) {
	f := &form{Action: "/sign-up", Submit: "sign_up.submit", Fields: []*field{
		{Name: "email", Type: "email", Autocomplete: "email", Label: "field.email", Value: email},
		{Name: "username", Type: "text", Autocomplete: "username", Label: "field.username", Hint: "hint.username", Value: username},
		{Name: "password", Type: "password", Autocomplete: "new-password", Label: "field.password", Hint: "hint.new_password"},
	}}
	return view{Page: "form", Title: "sign_up.title", Form: f, Links: []link{{"/sign-in", "sign_up.sign_in"}}}, f
}

func (p *Pages) signUpPage(w http.ResponseWriter, r *http.Request) {
	v, _ := p.signUpView("", "")
	p.render(w, r, http.StatusOK, v)
}

// signUp registers the account (the service mails the verification link)
// and says to check the mail.
func (p *Pages) signUp(w http.ResponseWriter, r *http.Request) {
	reg := user.Registration{
		Email: strings.TrimSpace(r.PostFormValue("email")), Username: strings.TrimSpace(r.PostFormValue("username")),
		Password: r.PostFormValue("password"),
	}
	v, f := p.signUpView(reg.Email, reg.Username)
	if missing(p, f, map[string]string{"email": reg.Email, "username": reg.Username, "password": reg.Password}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allow(r, p.opts.Limits.Register); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	if _, err := p.users.Register(p.client(r), reg); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	p.render(w, r, http.StatusCreated, view{Page: "message", Title: "sign_up.done.title", Intro: "sign_up.done.body",
		Links: []link{{"/sign-in", "continue_sign_in"}}})
}
