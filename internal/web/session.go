package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// The session cookie holds the user's and the session's ids and an
// HMAC-SHA256 of them under the pages' key: it cannot be forged or moved
// to another session without the key, and it means nothing once its
// session ends, which every request checks against the store (Resume).

// cookieMACLabel separates this MAC from any other made with the key.
const cookieMACLabel = "usersvc page session v1\x00"

// cookieLen is the decoded length of a session cookie: two ids and a MAC.
const cookieLen = 16 + 16 + sha256.Size

func (p *Pages) mac(userID, sessionID uuid.UUID) []byte {
	m := hmac.New(sha256.New, p.opts.Key)
	m.Write([]byte(cookieMACLabel))
	m.Write(userID[:])
	m.Write(sessionID[:])
	return m.Sum(nil)
}

// sessionValue is the cookie value naming the session.
func (p *Pages) sessionValue(userID, sessionID uuid.UUID) string {
	b := make([]byte, 0, cookieLen)
	b = append(append(append(b, userID[:]...), sessionID[:]...), p.mac(userID, sessionID)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseSession is the ids of a cookie value whose MAC is right.
func (p *Pages) parseSession(value string) (userID, sessionID uuid.UUID, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) != cookieLen {
		return uuid.Nil, uuid.Nil, false
	}
	copy(userID[:], b[:16])
	copy(sessionID[:], b[16:32])
	return userID, sessionID, hmac.Equal(b[32:], p.mac(userID, sessionID))
}

// cookie is a cookie of the pages: HttpOnly, SameSite=Lax, Path=/, and
// Secure (its name __Host- prefixed) unless development on plain http.
func (p *Pages) cookie(name, value string, maxAge int) *http.Cookie {
	//nolint:gosec // G124: Secure is on everywhere but development over plain http, where browsers would drop it
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.opts.Secure, SameSite: http.SameSiteLaxMode,
	}
}

// startBrowserSession gives the browser of r the session of t, and its
// device token. A live session the browser held for another account
// ends, as signing out would: on a shared browser the next person's
// sign-in must not leave the previous one's session live, out of reach
// of its owner's sign-out button. The same account's older session stays:
// the grants of its apps hang on it (a sign-in again for prompt=login,
// max_age or a second factor now asked).
func (p *Pages) startBrowserSession(w http.ResponseWriter, r *http.Request, t user.AccessToken) {
	if old, err := p.current(r); err == nil && old.User.ID != t.UserID {
		if err := p.users.Logout(p.client(r), old.User.ID, old.Session.ID); err != nil {
			// The new session is open: the old one ends at its expiry.
			p.log.ErrorContext(r.Context(), "end the previous account's page session", "error", err.Error())
		}
	}
	// No Max-Age: the cookie lasts the browser session; the usersvc
	// session behind it ends on its own terms (expiry, sign-out, revoke).
	http.SetCookie(w, p.cookie(p.cookieSes, p.sessionValue(t.UserID, t.SessionID), 0))
	p.keepDevice(w, t.DeviceToken)
}

// keepDevice gives the browser the device token device ("" gives
// nothing), which lets its sign-ins of that account past a lockout that
// failures from elsewhere put on it.
func (p *Pages) keepDevice(w http.ResponseWriter, device string) {
	if device != "" {
		http.SetCookie(w, p.cookie(p.cookieDev, device, int(user.DeviceTokenTTL/time.Second)))
	}
}

// endBrowserSession removes the browser's session cookie (the device token stays:
// it keeps the owner's browser out of lockouts).
func (p *Pages) endBrowserSession(w http.ResponseWriter) {
	http.SetCookie(w, p.cookie(p.cookieSes, "", -1))
}

// deviceToken is the device token the browser holds, "" for none.
func (p *Pages) deviceToken(r *http.Request) string {
	if c, err := r.Cookie(p.cookieDev); err == nil {
		return c.Value
	}
	return ""
}

type callerKey struct{}

// callerFrom is the signed-in caller signedIn put in ctx.
func callerFrom(ctx context.Context) (user.Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(user.Caller)
	return c, ok
}

// Current is the signed-in user of this browser and their session, checked
// live against the store (the session not ended, the account active);
// false when there is none. For other handlers in the same process (OIDC
// authorize and consent, passkey pages).
func (p *Pages) Current(r *http.Request) (user.User, user.Session, bool) {
	if c, ok := callerFrom(r.Context()); ok {
		return c.User, c.Session, true
	}
	c, err := p.current(r)
	return c.User, c.Session, err == nil
}

// current resolves the session cookie: ErrUnauthenticated without a
// valid one, the store's error when it cannot answer.
func (p *Pages) current(r *http.Request) (user.Caller, error) {
	ck, err := r.Cookie(p.cookieSes)
	if err != nil {
		return user.Caller{}, user.ErrUnauthenticated
	}
	uid, sid, ok := p.parseSession(ck.Value)
	if !ok {
		return user.Caller{}, user.ErrUnauthenticated
	}
	u, sess, err := p.users.Resume(r.Context(), uid, sid)
	return user.Caller{User: u, Session: sess}, err
}

// signedIn runs h for a signed-in browser, with the caller in the request
// context; anyone else is sent to sign in and back (a GET) or to the
// account (a POST, whose form is gone), and a dead session's cookie is
// removed.
func (p *Pages) signedIn(h func(http.ResponseWriter, *http.Request, user.Caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := p.current(r)
		if err != nil && !errors.Is(err, user.ErrUnauthenticated) {
			status, _, _ := p.explain(r, err)
			p.errorPage(w, r, status, "error.unavailable")
			return
		}
		if err != nil {
			if _, e := r.Cookie(p.cookieSes); e == nil {
				p.endBrowserSession(w)
			}
			back := "/account"
			if r.Method == http.MethodGet {
				back = r.URL.RequestURI()
			}
			redirect(w, "/sign-in?return_to="+url.QueryEscape(back))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)), c)
	}
}

// assured is signedIn under the MFA policy, as the API's authed is:
// under USERSVC_REQUIRE_MFA_FOR=all a page session that did not use the
// account's second factor reaches only the pages the API's mfaExempt
// leaves it (the account's overview and the authenticator app's pages,
// which stay signedIn: enough to enrol one), and sign-out.
func (p *Pages) assured(h func(http.ResponseWriter, *http.Request, user.Caller)) http.HandlerFunc {
	return p.signedIn(func(w http.ResponseWriter, r *http.Request, c user.Caller) {
		if p.assure(w, r, c, false) {
			h(w, r, c)
		}
	})
}

// redirect answers 303 See Other to target, a path of this service or a
// URL safeReturn allowed.
func redirect(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}
