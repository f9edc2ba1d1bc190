package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/user"
)

// The authenticator app (TOTP) and recovery codes on the pages (issue 22):
// /account/mfa shows what the account has and, each behind the current
// password, sets up an app (its secret and QR code, then a first code),
// removes it, or replaces the recovery codes. Secrets and codes are shown
// once, on the answer to a POST; protect (headers.go) keeps every page out
// of caches.

// mfaPath is the page.
const mfaPath = "/account/mfa"

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
	m.TOTP, m.RecoveryCodes = st.TOTP, st.RecoveryCodes
	p.render(w, r, status, view{Page: "mfa", Title: "mfa.title", Intro: "mfa.intro", Notice: notice(r), Me: &c.User, MFA: &m, Error: errText})
}

func (p *Pages) mfaPageGet(w http.ResponseWriter, r *http.Request, c user.Caller) {
	p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{}, "")
}

// mfaFailed shows the page again with err's message.
func (p *Pages) mfaFailed(w http.ResponseWriter, r *http.Request, c user.Caller, m mfaPage, err error) {
	status, text, _ := p.explain(r, err)
	p.mfaStatusPage(w, r, c, status, m, text)
}

// reauthenticated checks the form's current password and answers c with
// its session's authentication time renewed.
func (p *Pages) reauthenticated(r *http.Request, c user.Caller) (user.Caller, error) {
	if err := p.allow(r, p.opts.Limits.Password); err != nil {
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

// confirmForm is the form for the new authenticator's first code.
func confirmForm() *form {
	return &form{ID: "mfa-confirm", Action: mfaPath + "/confirm", Submit: "mfa.confirm", Fields: []*field{
		{Name: "code", Type: "text", Autocomplete: "one-time-code", Label: "field.code", Hint: "hint.totp_code"},
	}}
}

// setUpTOTP enrols a new authenticator and shows its secret and QR code
// with the form for its first code.
func (p *Pages) setUpTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	key, err := p.users.EnrolTOTP(p.client(r), c)
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(p.policyFor(r), "img-src ", "img-src "+qrImagePolicy+" ", 1))
	//nolint:gosec // the service's own PNG, base64: no markup or script in it
	qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(key.QRCode))
	p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{Secret: grouped(key.Secret), QR: qr, Confirm: confirmForm()}, "")
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

// confirmTOTP turns the authenticator on with its first code and shows
// the recovery codes once.
func (p *Pages) confirmTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	if err := p.allow(r, p.opts.Limits.Login); err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	codes, err := p.users.ConfirmTOTP(p.client(r), c, code)
	if errors.Is(err, user.ErrInvalidCode) {
		// The app holds the secret already: ask again for its code.
		f := confirmForm()
		status, text, _ := p.explain(r, err)
		f.Error, f.field("code").Error = p.must("error.form"), text
		p.mfaStatusPage(w, r, c, status, mfaPage{Confirm: f}, "")
		return
	}
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{Codes: codes}, "")
}

// removeTOTP turns the authenticator off.
func (p *Pages) removeTOTP(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	if err == nil {
		err = p.users.RemoveTOTP(p.client(r), c)
	}
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	redirect(w, withNotice(mfaPath, "totp_removed"))
}

// newRecoveryCodes replaces the recovery codes and shows the new ones once.
func (p *Pages) newRecoveryCodes(w http.ResponseWriter, r *http.Request, c user.Caller) {
	c, err := p.reauthenticated(r, c)
	var codes []string
	if err == nil {
		codes, err = p.users.RegenerateRecoveryCodes(p.client(r), c)
	}
	if err != nil {
		p.mfaFailed(w, r, c, mfaPage{}, err)
		return
	}
	p.mfaStatusPage(w, r, c, http.StatusOK, mfaPage{Codes: codes}, "")
}
