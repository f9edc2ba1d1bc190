package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/totp"
	"github.com/usersvc/usersvc/internal/user"
)

// The authenticator app (TOTP) and recovery codes on the pages (issue 22):
// /account/mfa shows what the account has and, each behind the current
// password, sets up an app (its secret and QR code, then a first code),
// removes it, or replaces the recovery codes. Secrets and codes are shown
// once, on the page the POST that made them redirects to (Post/Redirect/
// Get, onetime.go), so a reload never posts again: it neither makes new
// codes (silently voiding the ones just written down) nor replaces an
// app's secret just scanned. protect (headers.go) keeps every page out of
// caches.

// The page, and the pages that show a new app's secret and new recovery
// codes once.
const (
	mfaPath           = "/account/mfa"
	mfaSetupPath      = mfaPath + "/setup"
	recoveryCodesPath = mfaPath + "/recovery-codes"
)

// mfaNotices are the notices a one-time secret's cookie names
// (onetime.go): what made it.
var mfaNotices = map[string]string{"totp_enabled": "notice.totp_enabled"}

// qrImagePolicy is the img-src source the set-up page adds for its QR
// code, a data: URI of the service's PNG: no outside asset, no script.
const qrImagePolicy = "data:"

// mfaPage is the data of the mfa template.
type mfaPage struct {
	TOTP          string // user.TOTPNone, TOTPPending or TOTPEnabled
	RecoveryCodes int
	Secret        string       // grouped by four for typing; set-up only
	QR            template.URL // the QR code's data: URI; set-up only
	Codes         []string     // new recovery codes, shown once
	Confirm       *form        // the first code's form; set-up only
	Restart       bool         // offer set-up again beside Confirm: the secret was shown once already
	Notice        string       // a catalogue key, in place of the request's ?notice=
	// The forms behind the current password: set up an app, remove it,
	// make new recovery codes (renderMFA makes those not given).
	Setup, Remove, NewCodes *form
}

// The forms of the page behind the current password, each with the field
// of an id of its own: two of them are on the page at once.
func setupForm() *form {
	return passwordForm("mfa-setup", mfaSetupPath, "mfa.setup", "setup-password")
}

func removeForm() *form {
	f := passwordForm("mfa-remove", mfaPath+"/remove", "mfa.remove", "remove-password")
	f.Danger = true
	return f
}

func newCodesForm() *form {
	return passwordForm("mfa-regenerate", recoveryCodesPath, "mfa.codes.new", "codes-password")
}

// passwordForm is a form labelled by the heading id that posts the
// current password (its input's id inputID) to action.
func passwordForm(id, action, submit, inputID string) *form {
	pw := passwordField("")
	pw.ID = inputID
	return &form{ID: id, Action: action, Submit: submit, Fields: []*field{pw}}
}

// mfaStatusPage renders the page with the account's status, plus extra
// (secret, codes) and err's text.
func (p *Pages) mfaStatusPage(w http.ResponseWriter, r *http.Request, c user.Caller, status int, m mfaPage, errText string) {
	st, err := p.users.MFAStatus(p.client(r), c.User.ID)
	if err != nil {
		s, _, _ := p.explain(r, err)
		p.errorPage(w, r, s, "error.unavailable")
		return
	}
	p.renderMFA(w, r, c, status, st, m, errText)
}

// renderMFA renders the page with st, the account's status a handler
// has read already, plus extra (secret, codes) and errText.
func (p *Pages) renderMFA(w http.ResponseWriter, r *http.Request, c user.Caller, status int, st user.MFAStatus, m mfaPage, errText string) {
	m.TOTP, m.RecoveryCodes = st.TOTP, st.RecoveryCodes
	m.Setup, m.Remove, m.NewCodes = orForm(m.Setup, setupForm), orForm(m.Remove, removeForm), orForm(m.NewCodes, newCodesForm)
	p.render(w, r, status, view{Page: "mfa", Title: "mfa.title", Intro: "mfa.intro", Notice: orDefault(m.Notice, notice(r)),
		Me: &c.User, MFA: &m, Error: errText})
}

func (p *Pages) mfaPageGet(w http.ResponseWriter, r *http.Request, c user.Caller) {
	p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{}, "")
}

// orForm is f, or a new form of build when f is nil.
func orForm(f *form, build func() *form) *form {
	if f == nil {
		return build()
	}
	return f
}

// mfaFailed shows the page again with err's message: on the field of f
// (the form posted, one of m's; nil for none) it is about, else atop the
// page.
func (p *Pages) mfaFailed(w http.ResponseWriter, r *http.Request, c user.Caller, m mfaPage, f *form, err error) {
	status, text, name := p.explain(r, err)
	if p.onField(f, name, text) {
		text = ""
	}
	p.mfaStatusPage(w, r, c, status, m, text)
}

// reauthenticated checks the form's current password and answers c with
// its session's authentication time renewed.
func (p *Pages) reauthenticated(r *http.Request, c user.Caller) (user.Caller, error) {
	if err := p.allowWrite(r, p.opts.Limits.Password, c, perSession); err != nil {
		return c, err
	}
	password := r.PostFormValue("current_password")
	if password == "" {
		return c, user.ErrReauthenticationRequired
	}
	if err := p.users.Reauthenticate(p.client(r), c, password); err != nil {
		return c, err
	}
	return p.current(r) // re-read: the session is authenticated now
}

// confirmForm is the form for the new authenticator's first code, with
// setup, the handle of the set-up the page showed ("" for none), so that
// a code of a secret a newer set-up replaced is told apart.
func confirmForm(setup string) *form {
	f := &form{ID: "mfa-confirm", Action: mfaPath + "/confirm", Submit: "mfa.confirm", Fields: []*field{
		{Name: "code", Type: "text", Autocomplete: "one-time-code", Label: "field.code", Hint: "hint.totp_code"},
	}}
	if setup != "" {
		f.Hidden = []hidden{{Name: "setup", Value: setup}}
	}
	return f
}

// setUpTOTP enrols a new authenticator and sends the browser to the
// set-up page, which shows its secret and QR code once.
func (p *Pages) setUpTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	var key user.TOTPKey
	if err == nil {
		key, err = p.users.EnrolTOTP(p.client(r), c)
	}
	if err != nil {
		f := setupForm()
		p.mfaFailed(w, r, c, mfaPage{Setup: f}, f, err)
		return
	}
	// The URI, not its QR code: a cookie of the PNG would outgrow what
	// browsers keep (4 KB) for a long address.
	p.holdSecret(w, c, mfaSetupPath, []string{key.Secret, key.URI, key.Setup}, "")
	redirect(w, mfaSetupPath)
}

// setUpPage shows the secret and QR code of the app being set up, with
// the form for its first code, this once. A reload shows no secret and
// makes none: while the app is still not turned on it asks for the code
// of the app scanned already (the secret stands until it is replaced on
// purpose) and offers to start again for whoever did not scan it.
func (p *Pages) setUpPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	held, _, ok := p.takeSecret(w, r, c, mfaSetupPath)
	ok = ok && len(held) >= 2 // a cookie of the release before holds no setup
	setup := ""
	if ok && len(held) > 2 {
		setup = held[2]
	}
	var png []byte
	replaced := false
	st, err := p.users.MFAStatus(p.client(r), c.User.ID)
	if err == nil && ok && st.TOTP == user.TOTPPending {
		// A newer set-up elsewhere replaced the one this page was made
		// for: its secret would never turn an app on.
		ok, err = p.users.IsPendingTOTP(p.client(r), c.User.ID, held[0])
		replaced = err == nil && !ok
	}
	if err == nil && ok {
		png, err = totp.QRCode(held[1])
	}
	switch {
	case err != nil:
		p.mfaFailed(w, r, c, mfaPage{}, nil, err)
	case st.TOTP != user.TOTPPending: // turned on, removed: nothing to show
		redirect(w, mfaPath)
	case replaced:
		p.renderMFA(w, r, c, http.StatusOK, st, mfaPage{Confirm: confirmForm(""), Restart: true, Notice: "mfa.setup.replaced"}, "")
	case png != nil:
		w.Header().Set("Content-Security-Policy", strings.Replace(p.policyFor(r), "img-src ", "img-src "+qrImagePolicy+" ", 1))
		//nolint:gosec // the service's own PNG, base64: no markup or script in it
		qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		p.renderMFA(w, r, c, http.StatusOK, st, mfaPage{Secret: grouped(held[0]), QR: qr, Confirm: confirmForm(setup)}, "")
	default:
		p.renderMFA(w, r, c, http.StatusOK, st, mfaPage{Confirm: confirmForm(""), Restart: true, Notice: "mfa.setup.gone"}, "")
	}
}

// grouped is s in groups of four, for typing.
func grouped(s string) string {
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// confirmTOTP turns the authenticator on with its first code and sends
// the browser to the page that shows the recovery codes once.
func (p *Pages) confirmTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	if err := p.allowWrite(r, p.opts.Limits.Login, c, perSession); err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, nil, err)
		return
	}
	setup := r.PostFormValue("setup")
	codes, err := p.users.ConfirmTOTPSetup(p.client(r), c, code, setup)
	if errors.Is(err, user.ErrInvalidCode) || errors.Is(err, user.ErrTOTPSetupReplaced) {
		// The app holds the secret already: ask again for its code. One
		// of a replaced secret's app: offer to set up again too.
		f := confirmForm(setup)
		p.mfaFailed(w, r, c, mfaPage{Confirm: f, Restart: errors.Is(err, user.ErrTOTPSetupReplaced)}, f, err)
		return
	}
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, nil, err)
		return
	}
	p.holdSecret(w, c, recoveryCodesPath, codes, "totp_enabled")
	redirect(w, recoveryCodesPath)
}

// removeTOTP turns the authenticator off.
func (p *Pages) removeTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.users.RemoveTOTP(p.client(r), c)
	}
	if err != nil {
		f := removeForm()
		p.mfaFailed(w, r, c, mfaPage{Remove: f}, f, err)
		return
	}
	redirect(w, withNotice(mfaPath, "totp_removed"))
}

// newRecoveryCodes replaces the recovery codes and sends the browser to
// the page that shows the new ones once.
func (p *Pages) newRecoveryCodes(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	var codes []string
	if err == nil {
		codes, err = p.users.RegenerateRecoveryCodes(p.client(r), c)
	}
	if err != nil {
		f := newCodesForm()
		p.mfaFailed(w, r, c, mfaPage{NewCodes: f}, f, err)
		return
	}
	p.holdSecret(w, c, recoveryCodesPath, codes, "")
	redirect(w, recoveryCodesPath)
}

// recoveryCodesPage shows the new recovery codes this once: a reload
// says they were shown once, with the form to make new ones, and makes
// none. Without an authenticator app (never set up, or removed since)
// there are no codes to speak of: the browser goes to the factors' page.
func (p *Pages) recoveryCodesPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if codes, made, ok := p.takeSecret(w, r, c, recoveryCodesPath); ok {
		p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{Codes: codes, Notice: mfaNotices[made]}, "")
		return
	}
	st, err := p.users.MFAStatus(p.client(r), c.User.ID)
	switch {
	case err != nil:
		p.mfaFailed(w, r, c, mfaPage{}, nil, err)
	case st.TOTP != user.TOTPEnabled:
		redirect(w, mfaPath)
	default:
		p.renderMFA(w, r, c, http.StatusOK, st, mfaPage{Notice: "mfa.codes.gone"}, "")
	}
}
