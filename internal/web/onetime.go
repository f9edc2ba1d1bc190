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
// confidential client, a rotated client secret; an authenticator app's
// secret, new recovery codes) does its work and answers 303 See Other to
// the page that shows the secret once (secretPath for a client;
// mfaSetupPath, recoveryCodesPath). Reloading that page never posts the form again, and the
// secret is never in a URL. The secret travels in a cookie of that path
// only, short-lived (heldSecretTTL), HttpOnly, SameSite=Strict, Secure
// wherever the session cookie is, and sealed (AES-256-GCM, the service's
// signing.Sealer) under a key derived from the pages' cookie key: the
// browser cannot read it, and it opens only for the session that made it
// (the console's and the account pages' are the same session cookie) and
// the page it was made for, before it expires. The page
// that shows the secret removes the cookie (Max-Age=0); a reload, another
// session, or a cookie that does not open shows that the secret was shown
// once and how to make a new one. The pages keep no server-side store of
// its own, so the cookie is the simplest carrier that survives a restart
// or another replica answering the GET.

// heldSecretTTL is how long a one-time secret waits for its page.
const heldSecretTTL = 5 * time.Minute

// heldSecretLabel derives the sealing key from the pages' cookie key
// (Options.Key), so that it is never the key that signs the session
// cookie, and names what SealFor binds.
const heldSecretLabel = "usersvc pages one-time secret v2" //nolint:gosec // G101: a label, not a credential

// heldSecret is a cookie's sealed content.
type heldSecret struct {
	Secret  []string `json:"s"` // a client secret; recovery codes; a TOTP secret and its QR code
	Notice  string   `json:"n"` // what made it, a key of the page's notices (clientNotices: created, rotated)
	Expires int64    `json:"e"` // Unix seconds
}

// newSecretSealer is the sealer of one-time secrets under key.
func newSecretSealer(key []byte) (*signing.Sealer, error) {
	k, err := hkdf.Key(sha256.New, key, nil, heldSecretLabel, signing.KeyEncryptionKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("web: derive the one-time secret key: %w", err)
	}
	return signing.NewSealer(k, nil)
}

// secretPath is the page that shows client id's new secret once.
func secretPath(id string) string { return clientsPath + "/" + id + "/secret" }

// secretPurpose binds a sealed secret to the page that shows it and to
// the user's session: it opens for no other.
func secretPurpose(c user.Caller, page string) string {
	return heldSecretLabel + "\x00" + page + "\x00" + c.User.ID.String() + "\x00" + c.Session.ID.String()
}

// secretCookie is the cookie of the secret page page: the pages' cookie
// with that page's path and SameSite=Strict. Its name is __Secure- (not
// __Host-, which requires Path=/) prefixed when Secure.
func (p *Pages) secretCookie(page, value string, maxAge int) *http.Cookie {
	ck := p.cookie(p.cookieSecret, value, maxAge) //nolint:gosec // G124: HttpOnly, Secure as the session cookie; SameSite Strict below
	ck.Path, ck.SameSite = page, http.SameSiteStrictMode
	return ck
}

// holdSecret gives the browser secret, made by c's session, for the page
// page (a path) to show once; notice says what made it.
func (p *Pages) holdSecret(w http.ResponseWriter, c user.Caller, page string, secret []string, notice string) {
	held := heldSecret{Secret: secret, Notice: notice, Expires: p.now().Add(heldSecretTTL).Unix()}
	plain, err := json.Marshal(held) //nolint:gosec // G117: marshalled to be sealed, never sent or logged in the clear
	if err != nil {
		panic(err) // strings and an int always marshal
	}
	sealed := p.secrets.SealFor(plain, secretPurpose(c, page))
	http.SetCookie(w, p.secretCookie(page, base64.RawURLEncoding.EncodeToString(sealed), int(heldSecretTTL/time.Second)))
}

// takeSecret is the secret the browser holds for the page page, with its
// notice, and removes it from the browser: ok is false when there is
// none, or it does not open for c's session and this page, or it
// expired.
func (p *Pages) takeSecret(w http.ResponseWriter, r *http.Request, c user.Caller, page string) (secret []string, notice string, ok bool) {
	ck, err := r.Cookie(p.cookieSecret)
	if err != nil {
		return nil, "", false
	}
	http.SetCookie(w, p.secretCookie(page, "", -1))
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil, "", false
	}
	plain, err := p.secrets.OpenFor(sealed, secretPurpose(c, page))
	if err != nil {
		return nil, "", false
	}
	var h heldSecret
	if err := json.Unmarshal(plain, &h); err != nil || len(h.Secret) == 0 || !p.now().Before(time.Unix(h.Expires, 0)) {
		return nil, "", false
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
