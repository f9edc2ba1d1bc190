package httpapi

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// oauthPrefix is where the OpenID provider's endpoints are;
// authorizePath its authorization endpoint.
const (
	oauthPrefix   = "/oauth/"
	authorizePath = oauthPrefix + "authorize"
)

// limitAuthorize puts the provider's authorization endpoint under the
// Write limit per client address, counted with the other writes: every
// request there that names a registered client and redirect URI stores an
// authorization request, with no account or token behind it, so without a
// limit one address could fill the database (it answers 429 as the API
// does). The provider's other endpoints pass.
func (a *api) limitAuthorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authorizePath {
			if _, err := a.limit(r.Context(), a.limits.Write, addrKey(a.clientIP.IP(r))); err != nil {
				WriteError(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// delegateGrants hands the /token requests the OpenID provider takes (the
// authorization_code and client_credentials grants, and its own refresh
// tokens) to it, after the body limit and the waiting room; every other
// one goes on to the token operation as before. The form is read once
// here and put back for whoever answers.
func delegateGrants(o *OAuth) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != tokenPath {
				next.ServeHTTP(w, r)
				return
			}
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formURLEncoded {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil { // over the limit: the token operation says so
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, err := url.ParseQuery(string(body))
			if err == nil && o.Takes(form.Get("grant_type"), form.Get("refresh_token")) {
				o.Token.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
