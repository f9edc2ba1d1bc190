package web

import (
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// The second step of a sign-in (issue 22): an account with a second
// factor gets, after its password, a form for the code of its
// authenticator app or one of its recovery codes, carrying the login's
// mfa_token (single use, a few minutes) in a hidden field. The service's
// exchange (user.Service.LoginWithOTP, LoginWithRecoveryCode) checks it,
// counts wrong codes as failed logins and opens the session.

// totpDigits is the length of an authenticator app's code: anything else
// typed is taken for a recovery code.
const totpDigits = 6

// mfaView is the code form of the sign-in whose mfa_token is token,
// returning to back; with passkey (the account has one as a factor) also
// the button that proves the login with it instead (passkey.js).
func (p *Pages) mfaView(token, back string, passkey bool) (view, *form) {
	f := &form{Action: "/sign-in/mfa", Submit: "sign_in_mfa.submit", Fields: []*field{
		{Name: "code", Type: "text", Autocomplete: "one-time-code", Label: "field.code", Hint: "field.code_hint"},
	}, Hidden: []hidden{{"mfa_token", token}}}
	if back != "" {
		f.Hidden = append(f.Hidden, hidden{"return_to", back})
	}
	passkey = passkey && p.opts.Passkeys != nil
	if passkey {
		f.Hidden = append(f.Hidden, hidden{"passkey", "on"})
	}
	return view{Page: "form", Title: "sign_in_mfa.title", Intro: "sign_in_mfa.intro", Form: f,
		PasskeySecondFactor: passkey, MFAToken: token}, f
}

// mfaPasskeyOptions begins the passkey proof of the login whose mfa_token
// the script posts.
func (p *Pages) mfaPasskeyOptions(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.passkeyLoginAllowed(w, r); !ok {
		return
	}
	body, err := readCeremonyStart(r)
	var c user.FactorChallenge
	if err == nil {
		c, err = p.users.ChallengeSecondFactor(p.client(r), body.MFAToken, passkey.Method)
	}
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	optionsJSON(w, passkey.Options{Ceremony: c.Handle, PublicKey: c.Options})
}

// mfaPasskey finishes the login with the passkey's answer: the browser
// gets its session, as after a code.
func (p *Pages) mfaPasskey(w http.ResponseWriter, r *http.Request) {
	counted, ok := p.passkeyLoginAllowed(w, r)
	if !ok {
		return
	}
	body, err := readCeremony(r)
	var t user.AccessToken
	if err == nil {
		t, err = p.users.LoginWithChallenge(p.client(r), body.MFAToken, passkey.Method, body.Ceremony, body.Credential)
		p.settleLogin(r, counted, err)
	}
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	p.signedInJSON(w, r, t, body.ReturnTo)
}

// signInMFA finishes a sign-in with the code of the form: six characters
// are a TOTP code, anything else a recovery code.
func (p *Pages) signInMFA(w http.ResponseWriter, r *http.Request) {
	token, code := r.PostFormValue("mfa_token"), strings.TrimSpace(r.PostFormValue("code"))
	back := p.safeReturn(r.PostFormValue("return_to"))
	v, f := p.mfaView(token, back, r.PostFormValue("passkey") == "on")
	if missing(p, f, map[string]string{"code": code}) {
		p.render(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	counted, err := p.allowLogin(r)
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	finish := p.users.LoginWithRecoveryCode
	if len(code) == totpDigits {
		finish = p.users.LoginWithOTP
	}
	t, err := finish(p.client(r), token, code)
	p.settleLogin(r, counted, err)
	if err != nil {
		p.fail(w, r, v, f, err)
		return
	}
	p.startBrowserSession(w, r, t)
	redirect(w, orDefault(back, afterSignIn))
}
