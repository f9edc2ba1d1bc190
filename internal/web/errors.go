package web

import (
	"errors"
	"net/http"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// refusal is how a page shows an error of the service: its status, its
// message (a catalogue key) and the field it is about ("" for the form).
type refusal struct {
	err    error
	status int
	key    string
	field  string
}

// refusals is the one table from the service's errors to what the pages
// show; anything else is logged and shown as error.internal.
var refusals = []refusal{
	{user.ErrInvalidCredentials, http.StatusUnauthorized, "error.invalid_credentials", ""},
	{user.ErrWrongPassword, http.StatusUnauthorized, "error.wrong_password", "current_password"},
	{user.ErrLocked, http.StatusTooManyRequests, "error.locked", ""},
	{user.ErrRateLimited, http.StatusTooManyRequests, "error.rate_limited", ""},
	{user.ErrBusy, http.StatusServiceUnavailable, "error.busy", ""},
	{user.ErrUnavailable, http.StatusServiceUnavailable, "error.unavailable", ""},
	{user.ErrEmailNotVerified, http.StatusForbidden, "error.email_not_verified", ""},
	{user.ErrEmailTaken, http.StatusConflict, "error.email_taken", "email"},
	{user.ErrUsernameTaken, http.StatusConflict, "error.username_taken", "username"},
	{user.ErrInvalidToken, http.StatusBadRequest, "error.invalid_token", ""},
	{user.ErrInvalidCode, http.StatusBadRequest, "error.invalid_code", "code"},
	{user.ErrTOTPSetupReplaced, http.StatusConflict, "error.totp_setup_replaced", "code"},
	{user.ErrInvalidMFAToken, http.StatusBadRequest, "error.invalid_mfa_token", ""},
	{user.ErrReauthenticationRequired, http.StatusForbidden, "error.reauth", "current_password"},
	{user.ErrLastAdmin, http.StatusConflict, "error.last_admin", ""},
	{user.ErrAlreadyVerified, http.StatusConflict, "error.already_verified", ""},
	{user.ErrSessionNotFound, http.StatusNotFound, "error.session_not_found", ""},
	{user.ErrNotFound, http.StatusNotFound, "error.user_not_found", ""},
	{user.ErrFactorExists, http.StatusConflict, "error.factor_exists", ""},
	{user.ErrFactorNotFound, http.StatusNotFound, "error.factor_not_found", ""},
	{user.ErrMFAUnavailable, http.StatusServiceUnavailable, "error.unavailable", ""},
	{user.ErrForbidden, http.StatusForbidden, "error.admin_only", ""},
	{oauthclient.ErrNotFound, http.StatusNotFound, "error.client_not_found", ""},
	{oauthclient.ErrPublicClient, http.StatusConflict, "error.client_public", ""},
	{errNoRegistry, http.StatusServiceUnavailable, "error.unavailable", ""},
}

// fail shows err on f, on its field when the error is about one f has, and
// renders v with the error's status.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, v view, f *form, err error) {
	status, text, fieldName := p.explain(r, err)
	if !p.onField(f, fieldName, text) {
		f.Error = text
	}
	p.render(w, r, status, v)
}

// onField shows text on f's field name, with the form's message that
// points to it, and says whether f has that field.
func (p *Pages) onField(f *form, name, text string) bool {
	fl := f.field(name)
	if fl == nil {
		return false
	}
	fl.Error = text
	f.Error = p.must("error.form")
	return true
}

// show renders v, with fail explained on its form f when there is one:
// the answer of a page whose form may have been refused.
func (p *Pages) show(w http.ResponseWriter, r *http.Request, v view, f *form, fail error) {
	if fail != nil {
		p.fail(w, r, v, f, fail)
		return
	}
	p.render(w, r, http.StatusOK, v)
}

// explain is err's status, text and field.
func (p *Pages) explain(r *http.Request, err error) (status int, text, field string) {
	if v, ok := errors.AsType[*user.ValidationError](err); ok {
		return http.StatusUnprocessableEntity, p.invalidText(v), v.Field
	}
	for _, rf := range refusals {
		if errors.Is(err, rf.err) {
			return rf.status, p.must(rf.key), rf.field
		}
	}
	p.log.ErrorContext(r.Context(), "page request failed", "path", r.URL.Path, "error", err.Error())
	return http.StatusInternalServerError, p.must("error.internal"), ""
}

// invalidText is the catalogue's text of the rule v broke, filled with
// the rule's arguments (a length, a name) that only the service knows;
// invalid.unknown for an error of no rule the catalogue has (errors made
// outside package user carry no code).
func (p *Pages) invalidText(v *user.ValidationError) string {
	if v.Code != "" {
		if s, err := p.msg.text(invalidKey(v.Code), v.Args...); err == nil {
			return s
		}
	}
	return p.must("invalid.unknown")
}

// invalidKey is the catalogue key of the validation rule code.
func invalidKey(code user.Code) string { return "invalid." + string(code) }

// must is the catalogue's text of key; a key missing from a replaced
// catalogue shows as the key itself.
func (p *Pages) must(key string, args ...any) string {
	s, err := p.msg.text(key, args...)
	if err != nil {
		return key
	}
	return s
}

// errorTitles are the error pages' titles (catalogue keys), by the
// message they show: what happened, in a few words, for the tab and the
// heading (WCAG 2.4.2). A message without one is titled error.title.
var errorTitles = map[string]string{
	"error.unavailable":        "error.title.unavailable",
	"error.busy":               "error.title.unavailable",
	"error.admin_only":         "error.title.not_allowed",
	"error.cross_site":         "error.title.not_allowed",
	"error.mfa_login_required": "error.title.second_factor",
	"error.user_not_found":     "error.title.user_not_found",
	"error.client_not_found":   "error.title.client_not_found",
	"error.client_public":      "error.title.not_allowed",
	"error.rate_limited":       "error.title.rate_limited",
	"invalid.cursor":           "error.title.bad_link",
}

// errorTitle is the title of the error page that shows the message key.
func errorTitle(key string) string { return orDefault(errorTitles[key], "error.title") }

// errorPage renders a page that says what went wrong, titled with it,
// and links back to the account when the browser is signed in, else to
// sign in: a fixed place, never one the request names.
func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := view{Page: "message", Title: errorTitle(key), Intro: key, Links: []link{{Href: "/sign-in", Label: "continue_sign_in"}}}
	if u, _, ok := p.Current(r); ok {
		v.Me, v.Links = &u, []link{{Href: "/account", Label: "continue_account"}}
	}
	p.render(w, r, status, v)
}
