package web

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

// One-time secrets, Post/Redirect/Get: a form that makes a secret (a new
// confidential client, a rotated client secret) does its work and answers
// 303 See Other to the client's secret page (secretPath), which shows the
// secret once. Reloading that page never posts the form again, and the
// secret is never in a URL. The secret travels in a cookie of that path
// only, short-lived (heldSecretTTL), HttpOnly, SameSite=Strict, Secure
// wherever the session cookie is, and sealed (AES-256-GCM, the service's
// signing.Sealer) under a key derived from the pages' cookie key: the
// browser cannot read it, and it opens only for the administrator's
// session and the client it was made for, before it expires. The page
// that shows the secret removes the cookie (Max-Age=0); a reload, another
// session, or a cookie that does not open shows that the secret was shown
// once and how to rotate it. The console keeps no server-side store of
// its own, so the cookie is the simplest carrier that survives a restart
// or another replica answering the GET.

// heldSecretTTL is how long a one-time secret waits for its page.
const heldSecretTTL = 5 * time.Minute

// heldSecretLabel derives the sealing key from the pages' cookie key
// (Options.Key), so that it is never the key that signs the session
// cookie, and names what SealFor binds.
const heldSecretLabel = "usersvc console one-time secret v1" //nolint:gosec // G101: a label, not a credential

// heldSecret is a cookie's sealed content.
type heldSecret struct {
	Secret  string `json:"s"`
	Notice  string `json:"n"` // a clientNotices key: created, rotated
	Expires int64  `json:"e"` // Unix seconds
}

// newSecretSealer is the sealer of one-time secrets under key.
func newSecretSealer(key []byte) (*signing.Sealer, error) {
	k, err := hkdf.Key(sha256.New, key, nil, heldSecretLabel, signing.KeyEncryptionKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("web: derive the one-time secret key: %w", err)
	}
	return signing.NewSealer(k)
}

// secretPath is the page that shows client id's new secret once.
func secretPath(id string) string { return clientsPath + "/" + id + "/secret" }

// secretPurpose binds a sealed secret to the client and to the
// administrator's session: it opens for no other.
func secretPurpose(c user.Caller, clientID string) string {
	return heldSecretLabel + "\x00" + clientID + "\x00" + c.User.ID.String() + "\x00" + c.Session.ID.String()
}

// secretCookie is the cookie of client id's secret page: the pages'
// cookie with that page's path and SameSite=Strict. Its name is
// __Secure- (not __Host-, which requires Path=/) prefixed when Secure.
func (p *Pages) secretCookie(id, value string, maxAge int) *http.Cookie {
	ck := p.cookie(p.cookieSecret, value, maxAge) //nolint:gosec // G124: HttpOnly, Secure as the session cookie; SameSite Strict below
	ck.Path, ck.SameSite = secretPath(id), http.SameSiteStrictMode
	return ck
}

// holdSecret gives the browser secret, made for client id by c's session,
// for the page secretPath(id); notice says what made it.
func (p *Pages) holdSecret(w http.ResponseWriter, c user.Caller, id, secret, notice string) {
	held := heldSecret{Secret: secret, Notice: notice, Expires: p.now().Add(heldSecretTTL).Unix()}
	plain, err := json.Marshal(held) //nolint:gosec // G117: marshalled to be sealed, never sent or logged in the clear
	if err != nil {
		panic(err) // a struct of strings and an int always marshals
	}
	sealed := p.secrets.SealFor(plain, secretPurpose(c, id))
	http.SetCookie(w, p.secretCookie(id, base64.RawURLEncoding.EncodeToString(sealed), int(heldSecretTTL/time.Second)))
}

// takeSecret is the secret the browser holds for client id, with its
// notice, and removes it from the browser: ok is false when there is
// none, or it does not open for c's session and this client, or it
// expired.
func (p *Pages) takeSecret(w http.ResponseWriter, r *http.Request, c user.Caller, id string) (secret, notice string, ok bool) {
	ck, err := r.Cookie(p.cookieSecret)
	if err != nil {
		return "", "", false
	}
	http.SetCookie(w, p.secretCookie(id, "", -1))
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return "", "", false
	}
	plain, err := p.secrets.OpenFor(sealed, secretPurpose(c, id))
	if err != nil {
		return "", "", false
	}
	var h heldSecret
	if err := json.Unmarshal(plain, &h); err != nil || h.Secret == "" || !p.now().Before(time.Unix(h.Expires, 0)) {
		return "", "", false
	}
	return h.Secret, h.Notice, true
}

// now is the pages' clock.
func (p *Pages) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}
