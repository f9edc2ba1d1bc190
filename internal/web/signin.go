package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// afterSignIn is where a sign-in lands without a return_to.
const afterSignIn = "/account"

// signInView is the sign-in page, login prefilled, with where to return.
func (p *Pages) signInView(login, back, notice string) (view, *form) {
	f := &form{Action: "/sign-in", Submit: "sign_in.submit", Fields: []*field{
		{Name: "login", Type: "text", Autocomplete: "username", Label: "field.login", Value: login},
		{Name: "password", Type: "password", Autocomplete: "current-password", Label: "field.password"},
	}}
	if back != "" {
		f.Hidden = []hidden{{"return_to", back}}
	}
	links := []link{{"/forgot-password", "sign_in.forgot"}, {"/sign-up", "sign_in.sign_up"}}
	return view{Page: "form", Title: "sign_in.title", Notice: notice, Form: f, Links: links, PasskeySignIn: p.opts.Passkeys != nil}, f
}

// signInPage shows the form, or sends a browser already signed in on to
// where it was going, unless prompt=login asks for a fresh sign-in (the
// OpenID provider's prompt=login and max_age).
func (p *Pages) signInPage(w http.ResponseWriter, r *http.Request) {
	back := p.safeReturn(r.URL.Query().Get("return_to"))
	if _, _, ok := p.Current(r); ok && r.URL.Query().Get("prompt") != "login" {
		redirect(w, orDefault(back, afterSignIn))
		return
	}
	n := notice(r)
	if n == "" && back != "" {
		n = "notice.sign_in_needed"
	}
	v, _ := p.signInView("", back, n)
	p.render(w, r, http.StatusOK, v)
}

// signIn logs in through the service's password login, the one /token
// uses (its guard, lockout and device tokens), after the per-address login
// limit the API applies, counted in the same bucket; the session it opens
// is the browser's.
func (p *Pages) signIn(w http.ResponseWriter, r *http.Request) {
	login, password := strings.TrimSpace(r.PostFormValue("login")), r.PostFormValue("password")
	back := p.safeReturn(r.PostFormValue("return_to"))
	v, f := p.signInView(login, back, "")
	if missing(p, f, map[string]string{"login": login, "password": password}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	counted, err := p.allowLogin(r)
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	t, err := p.users.Login(p.client(r), login, password, p.deviceToken(r))
	p.settleLogin(r, counted, err)
	if m, ok := errors.AsType[*user.MFARequiredError](err); ok {
		// The account has a second factor: its code next (mfa.go).
		v, _ := p.mfaView(m.Token, back, slices.Contains(m.Methods, passkey.Method))
		p.render(w, r, http.StatusOK, v)
		return
	}
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	p.startBrowserSession(w, r, t)
	redirect(w, orDefault(back, afterSignIn))
}

// signOut ends the browser's session, if it has a live one, and its
// cookie.
func (p *Pages) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := p.current(r); err == nil {
		if err := p.users.Logout(p.client(r), c.User.ID, c.Session.ID); err != nil {
			status, _, _ := p.explain(r, err)
			p.errorPage(w, r, status, "error.unavailable")
			return
		}
	}
	p.endBrowserSession(w)
	redirect(w, "/sign-in?notice=signed_out")
}

// missing marks each empty value's field of f as required and says
// whether there was one.
func missing(p *Pages, f *form, values map[string]string) bool {
	empty := false
	for _, fl := range f.Fields {
		if v, ok := values[fl.Name]; ok && v == "" && !fl.Optional {
			fl.Error, empty = p.must("error.required"), true
		}
	}
	if empty {
		f.Error = p.must("error.form")
	}
	return empty
}

// notices are the ?notice= values a page shows, as catalogue keys; any
// other value shows nothing.
var notices = map[string]string{
	"signed_out": "notice.signed_out", "password_reset": "notice.password_reset",
	"password_changed": "notice.password_changed", "profile_saved": "notice.profile_saved",
	"email_changed": "notice.email_changed", "session_ended": "notice.session_ended",
	"others_ended": "notice.others_ended", "deleted": "notice.deleted",
	"mfa_enrol":     "notice.mfa_enrol",
	"passkey_added": "notice.passkey_added", "passkey_renamed": "notice.passkey_renamed", "passkey_removed": "notice.passkey_removed",
	"app_revoked":  "notice.app_revoked",  // consents.go
	"totp_removed": "notice.totp_removed", // mfa_pages.go
}

// notice is the catalogue key of r's ?notice=, "" for none.
func notice(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// withNotice is path with ?notice=name.
func withNotice(path, name string) string { return path + "?notice=" + url.QueryEscape(name) }
