package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/user"
)

// profileForm is the profile form of c's account, with name and email
// as given (or as stored).
func profileForm(name, email string) *form {
	return &form{ID: "profile", Action: "/account/profile", Submit: "account.submit", Fields: []*field{
		{Name: "full_name", Type: "text", Autocomplete: "name", Label: "field.full_name", Value: name, Optional: true},
		{Name: "email", Type: "email", Autocomplete: "email", Label: "field.email", Value: email},
		{Name: "current_password", Type: "password", Autocomplete: "current-password", Label: "field.current_password",
			Hint: "hint.profile_password", Optional: true},
	}}
}

func accountView(c user.Caller, f *form, notice string) view {
	return view{Page: "account", Title: "account.title", Notice: notice, Form: f, Me: &c.User}
}

func (p *Pages) accountPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	p.render(w, r, http.StatusOK, accountView(c, profileForm(c.User.FullName, c.User.Email), notice(r)))
}

// updateProfile saves the name and, under the re-authentication rule
// (the current password on the form), the email.
func (p *Pages) updateProfile(w http.ResponseWriter, r *http.Request, c user.Caller) {
	name, email := strings.TrimSpace(r.PostFormValue("full_name")), strings.TrimSpace(r.PostFormValue("email"))
	f := profileForm(name, email)
	v := accountView(c, f, "")
	if missing(p, f, map[string]string{"email": email}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Write, c, perAccount); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	patch := user.Patch{FullName: &name}
	moved := !strings.EqualFold(email, c.User.Email)
	if moved {
		if err := p.allowEmailChange(r, c, email); err != nil {
			p.fail(w, r, v, f, err)
			return
		}
		patch.Email = &email
	}
	if _, err := p.users.Update(p.client(r), c, patch, r.PostFormValue("current_password")); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	if moved {
		redirect(w, withNotice("/account", "email_changed"))
		return
	}
	redirect(w, withNotice("/account", "profile_saved"))
}

func passwordView(c user.Caller) (view, *form) {
	f := &form{Action: "/account/password", Submit: "password.submit", Fields: []*field{
		passwordField(""),
		{Name: "new_password", Type: "password", Autocomplete: "new-password", Label: "field.new_password", Hint: "hint.new_password"},
	}}
	return view{Page: "form", Title: "password.title", Intro: "password.intro", Form: f, Me: &c.User}, f
}

func (p *Pages) passwordPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	v, _ := passwordView(c)
	p.render(w, r, http.StatusOK, v)
}

// changePassword changes it; the service ends every other session, this
// one stays.
func (p *Pages) changePassword(w http.ResponseWriter, r *http.Request, c user.Caller) {
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	v, f := passwordView(c)
	if missing(p, f, map[string]string{"current_password": current, "new_password": next}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Password, c, perSession); err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	if err := p.users.ChangePassword(p.client(r), c, current, next); err != nil {
		if ve, ok := errors.AsType[*user.ValidationError](err); ok && ve.Field == "password" {
			moved := *ve
			moved.Field = "new_password"
			err = &moved
		}
		p.fail(w, r, v, f, err)
		return
	}
	redirect(w, withNotice("/account/password", "password_changed"))
}
