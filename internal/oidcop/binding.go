package oidcop

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// bindingCookie holds a random value whose hash is stored with every
// authorization request the browser sends: a request id alone (seen in
// a URL, a log, a Referer) must not let another browser finish the
// request, with the victim's state and PKCE challenge, for its own
// account (login CSRF at the relying party).
const bindingCookie = "usersvc_oauth"

// bindingKey carries the browser's binding value from /oauth/authorize
// to CreateAuthRequest.
type bindingKey struct{}

// bindBrowser gives the browser its binding cookie on the authorization
// endpoint's answer, the one that sends it on to sign in. A browser that
// has one keeps its value, so that requests it runs side by side (two
// tabs, two clients) stay its own. SameSite=Lax: the relying party's
// redirect here is a cross-site top-level GET, which still carries it;
// the path keeps it to the provider's handlers.
func (p *Provider) bindBrowser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := bindingOf(r)
		if v == "" {
			v = random()
		}
		//nolint:gosec // G124: Secure is off only for a plain-http issuer, which config refuses in production
		http.SetCookie(w, &http.Cookie{
			Name: bindingCookie, Value: v, Path: "/oauth/", MaxAge: int(p.cfg.RequestTTL.Seconds()),
			HttpOnly: true, Secure: !strings.HasPrefix(p.cfg.Issuer, "http://"), SameSite: http.SameSiteLaxMode,
		})
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bindingKey{}, v)))
	})
}

// bindingOf is the browser's binding value, "" when it has none that
// random could have made.
func bindingOf(r *http.Request) string {
	c, err := r.Cookie(bindingCookie)
	if err != nil {
		return ""
	}
	if b, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || len(b) != 32 {
		return ""
	}
	return c.Value
}

// browserHash is the hash of the binding value ctx carries, nil without
// one: such a request is never bound to a browser.
func browserHash(ctx context.Context) []byte {
	v, _ := ctx.Value(bindingKey{}).(string)
	if v == "" {
		return nil
	}
	return digest(v)
}

// boundHere reports whether r comes from the browser that sent req.
func boundHere(r *http.Request, req AuthRequest) bool {
	v := bindingOf(r)
	return v != "" && len(req.BrowserHash) > 0 && subtle.ConstantTimeCompare(digest(v), req.BrowserHash) == 1
}
