package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/ratelimit"
	"github.com/usersvc/usersvc/internal/user"
)

// Passkeys on the pages (issue 22): /account/passkeys lists, renames and
// removes them with plain forms; adding one and signing in with one need
// the browser's WebAuthn API, so /assets/passkey.js (no inline script:
// the CSP allows scripts from this origin only) runs those ceremonies
// against the JSON routes below and the buttons stay hidden without it.

const (
	// passkeyScriptPath is where the script is served.
	passkeyScriptPath = "/assets/passkey.js"
	// passkeysPath is the list's page; its forms post below it.
	passkeysPath = "/account/passkeys"
)

//go:embed assets/passkey.js
var passkeyScript []byte

// Passkeys is what the pages need of the relying party (passkey.Service).
type Passkeys interface {
	BeginRegistration(ctx context.Context, c user.Caller, currentPassword string) (passkey.Options, error)
	FinishRegistration(ctx context.Context, c user.Caller, handle, name string, response []byte) (passkey.Passkey, error)
	List(ctx context.Context, userID uuid.UUID) ([]passkey.Passkey, error)
	Rename(ctx context.Context, c user.Caller, id uuid.UUID, name string) (passkey.Passkey, error)
	Remove(ctx context.Context, c user.Caller, id uuid.UUID, currentPassword string) error
	BeginLogin(ctx context.Context) (passkey.Options, error)
	FinishLogin(ctx context.Context, handle string, response []byte) (user.AccessToken, []string, error)
}

// passkeyRefusals are the relying party's errors on the pages.
var passkeyRefusals = []refusal{
	{passkey.ErrNotFound, http.StatusNotFound, "error.passkey_not_found", ""},
	{passkey.ErrTaken, http.StatusConflict, "error.passkey_taken", ""},
	{passkey.ErrTooMany, http.StatusConflict, "error.passkey_too_many", ""},
	{passkey.ErrCeremony, http.StatusBadRequest, "error.passkey_ceremony", ""},
	{passkey.ErrVerification, http.StatusBadRequest, "error.passkey_failed", ""},
	{passkey.ErrInvalidName, http.StatusUnprocessableEntity, "error.passkey_name", "name"},
}

func (p *Pages) script(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(passkeyScript)
}

// passkeysPage lists the account's passkeys.
func (p *Pages) passkeysPage(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if p.opts.Passkeys == nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	keys, err := p.opts.Passkeys.List(p.client(r), c.User.ID)
	if err != nil {
		status, _, _ := p.explain(r, err)
		p.errorPage(w, r, status, "error.unavailable")
		return
	}
	p.render(w, r, http.StatusOK, view{Page: "passkeys", Title: "passkeys.title", Intro: "passkeys.intro", Notice: notice(r), Me: &c.User, Passkeys: passkeyRows(keys)})
}

// passkeyAction renames (name) or removes a passkey from a form, then
// comes back to the list with a notice or the error.
func (p *Pages) passkeyAction(remove bool) func(http.ResponseWriter, *http.Request, user.Caller) {
	return func(w http.ResponseWriter, r *http.Request, c user.Caller) {
		if p.opts.Passkeys == nil {
			p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable")
			return
		}
		if err := p.allowWrite(r, p.opts.Limits.Write, c, perSession); err != nil {
			p.passkeyFailed(w, r, c, passkeyPost{}, err)
			return
		}
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			p.passkeyFailed(w, r, c, passkeyPost{}, passkey.ErrNotFound)
			return
		}
		posted := passkeyPost{id: id, remove: remove, name: r.PostFormValue("name")}
		n := "passkey_renamed"
		if remove {
			n = "passkey_removed"
			err = p.opts.Passkeys.Remove(p.client(r), c, id, r.PostFormValue("current_password"))
		} else {
			_, err = p.opts.Passkeys.Rename(p.client(r), c, id, posted.name)
		}
		if err != nil {
			p.passkeyFailed(w, r, c, posted, err)
			return
		}
		redirect(w, withNotice(passkeysPath, n))
	}
}

// passkeyFailed shows the list again with err's message: on the field of
// the form posted when err is about it (the other forms as a GET shows
// them), else atop the page.
func (p *Pages) passkeyFailed(w http.ResponseWriter, r *http.Request, c user.Caller, posted passkeyPost, err error) {
	status, text, name := p.passkeyExplain(r, err)
	keys, _ := p.opts.Passkeys.List(p.client(r), c.User.ID)
	rows := passkeyRows(keys)
	if p.onField(posted.formIn(rows), name, text) {
		text = ""
	}
	p.render(w, r, status, view{Page: "passkeys", Title: "passkeys.title", Intro: "passkeys.intro", Me: &c.User, Passkeys: rows, Error: text})
}

// passkeyExplain is explain with the relying party's errors.
func (p *Pages) passkeyExplain(r *http.Request, err error) (status int, text, field string) {
	for _, rf := range passkeyRefusals {
		if errors.Is(err, rf.err) {
			return rf.status, p.must(rf.key), rf.field
		}
	}
	return p.explain(r, err)
}

// ceremonyJSON is what passkey.js posts to finish a ceremony.
type ceremonyJSON struct {
	MFAToken string `json:"mfa_token"`
	// CurrentPassword begins adding a passkey once the sign-in is older
	// than the re-authentication window.
	CurrentPassword string          `json:"current_password"`
	Ceremony        string          `json:"ceremony"`
	Name            string          `json:"name"`
	ReturnTo        string          `json:"return_to"`
	Credential      json.RawMessage `json:"credential"`
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonFailed answers err as {"error": text}.
func (p *Pages) jsonFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, text, _ := p.passkeyExplain(r, err)
	writeJSON(w, status, map[string]string{"error": text})
}

// readCeremony reads a finishing body, at most passkey.MaxResponse bytes
// and a little.
func readCeremony(r *http.Request) (ceremonyJSON, error) {
	var c ceremonyJSON
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return c, passkey.ErrVerification
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, passkey.MaxResponse+4096))
	if err != nil || json.Unmarshal(b, &c) != nil || len(c.Credential) > passkey.MaxResponse {
		return ceremonyJSON{}, passkey.ErrVerification
	}
	return c, nil
}

// readCeremonyStart reads the small JSON body that begins a ceremony
// (the second step's mfa_token, adding a passkey's current_password).
func readCeremonyStart(r *http.Request) (ceremonyJSON, error) {
	var c ceremonyJSON
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return c, passkey.ErrVerification
	}
	if json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&c) != nil {
		return ceremonyJSON{}, passkey.ErrVerification
	}
	return c, nil
}

// optionsJSON answers a ceremony's options as passkey.js wants them.
func optionsJSON(w http.ResponseWriter, o passkey.Options) {
	writeJSON(w, http.StatusOK, map[string]any{"ceremony": o.Ceremony, "public_key": o.PublicKey})
}

// addPasskeyOptions begins a registration for the signed-in browser.
func (p *Pages) addPasskeyOptions(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if p.opts.Passkeys == nil {
		p.jsonFailed(w, r, user.ErrUnavailable)
		return
	}
	if err := p.allowWrite(r, p.opts.Limits.Password, c, perSession); err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	body, err := readCeremonyStart(r)
	var o passkey.Options
	if err == nil {
		o, err = p.opts.Passkeys.BeginRegistration(p.client(r), c, body.CurrentPassword)
	}
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	optionsJSON(w, o)
}

// addPasskey finishes a registration begun by addPasskeyOptions.
func (p *Pages) addPasskey(w http.ResponseWriter, r *http.Request, c user.Caller) {
	if p.opts.Passkeys == nil {
		p.jsonFailed(w, r, user.ErrUnavailable)
		return
	}
	body, err := readCeremony(r)
	if err == nil {
		_, err = p.opts.Passkeys.FinishRegistration(p.client(r), c, body.Ceremony, body.Name, body.Credential)
	}
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"location": withNotice(passkeysPath, "passkey_added")})
}

// passkeySignInOptions begins a usernameless sign-in.
func (p *Pages) passkeySignInOptions(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.passkeyLoginAllowed(w, r); !ok {
		return
	}
	o, err := p.opts.Passkeys.BeginLogin(p.client(r))
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	optionsJSON(w, o)
}

// passkeySignIn finishes it: the browser gets a session as a password
// sign-in's, and where to go.
func (p *Pages) passkeySignIn(w http.ResponseWriter, r *http.Request) {
	counted, ok := p.passkeyLoginAllowed(w, r)
	if !ok {
		return
	}
	body, err := readCeremony(r)
	var t user.AccessToken
	if err == nil {
		t, _, err = p.opts.Passkeys.FinishLogin(p.client(r), body.Ceremony, body.Credential)
		p.settleLogin(r, counted, err)
	}
	if err != nil {
		p.jsonFailed(w, r, err)
		return
	}
	p.signedInJSON(w, r, t, body.ReturnTo)
}

// passkeyLoginAllowed says whether a step of a passkey sign-in (alone or
// as the second step) may go on, having answered the script when not:
// passkeys are off, or the client is over the login limit. It returns the
// step's count for settleLogin.
func (p *Pages) passkeyLoginAllowed(w http.ResponseWriter, r *http.Request) (ratelimit.Result, bool) {
	if p.opts.Passkeys == nil {
		p.jsonFailed(w, r, user.ErrUnavailable)
		return ratelimit.Result{}, false
	}
	counted, err := p.allowLogin(r)
	if err != nil {
		p.jsonFailed(w, r, err)
		return ratelimit.Result{}, false
	}
	return counted, true
}

// signedInJSON gives the browser the session of t, as a password
// sign-in's, and tells the script where to go (returnTo if it is safe).
func (p *Pages) signedInJSON(w http.ResponseWriter, r *http.Request, t user.AccessToken, returnTo string) {
	p.startBrowserSession(w, r, t)
	writeJSON(w, http.StatusOK, map[string]string{"location": orDefault(p.safeReturn(returnTo), afterSignIn)})
}
