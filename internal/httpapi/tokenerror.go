package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/internal/user"
)

// The error codes of RFC 6749 section 5.2 that /token answers, and the
// two of section 4.1.2.1 that say the server, not the request, failed.
const (
	oauthInvalidRequest       = "invalid_request"
	oauthInvalidClient        = "invalid_client"
	oauthInvalidGrant         = "invalid_grant"
	oauthUnauthorizedClient   = "unauthorized_client"
	oauthUnsupportedGrantType = "unsupported_grant_type"
	oauthInvalidScope         = "invalid_scope"
	oauthUnavailable          = "temporarily_unavailable"
	oauthServerError          = "server_error"
	// oauthMFARequired is a password login of an account with a second
	// factor: the answer holds the mfa_token of the second step (not an
	// RFC 6749 code; the one Auth0 and others answer).
	oauthMFARequired = "mfa_required"
)

// oauthErrorCodes are every error code /token answers, for the document.
var oauthErrorCodes = []string{oauthInvalidRequest, oauthInvalidClient, oauthInvalidGrant, oauthUnauthorizedClient,
	oauthUnsupportedGrantType, oauthInvalidScope, oauthUnavailable, oauthServerError, oauthMFARequired}

// tokenProblem is the body of every /token error: the problem every other
// route answers (same status, detail and code), plus the members OAuth2
// clients read (RFC 6749 section 5.2), as application/json.
type tokenProblem struct {
	problem
	OAuthError       string `json:"error" enum:"invalid_request,invalid_client,invalid_grant,unauthorized_client,unsupported_grant_type,invalid_scope,temporarily_unavailable,server_error,mfa_required" doc:"The RFC 6749 error code: invalid_grant for wrong credentials or a refresh token that is no longer valid; unauthorized_client for a registered client not allowed the grant; mfa_required when the account has a second factor (then mfa_token and methods say how to go on)"`
	ErrorDescription string `json:"error_description" doc:"The detail, in the characters RFC 6749 allows"`
	// The second step of an mfa_required answer.
	MFAToken  string   `json:"mfa_token,omitempty"`
	Methods   []string `json:"methods,omitempty"`
	ExpiresIn int      `json:"expires_in,omitempty"`
}

// ContentType makes huma send a tokenProblem as application/json, which
// every OAuth2 client parses.
func (p *tokenProblem) ContentType(string) string { return jsonType }

// tokenError is problem for /token: the same status, code and detail,
// with the OAuth2 error members. Its 401 carries no Bearer challenge (the
// endpoint takes no bearer token). invalid_client carries a Basic one only
// when the client authenticated with an "Authorization: Basic" header (RFC
// 6749 section 5.2); a client that sent its credentials in the body gets
// the 401 without it, as a challenge makes a browser ask for a password
// and leaves a fetch-based client (the docs page's try-it-out) hanging.
func (a *api) tokenError(ctx context.Context, err error) error {
	var p *problem
	if !errors.As(a.problem(ctx, err), &p) {
		return err
	}
	code := p.oauth
	switch {
	case errors.Is(err, errUnsupportedGrant):
		code = oauthUnsupportedGrantType
	case errors.Is(err, errInvalidScope):
		code = oauthInvalidScope
	case code == "":
		code = oauthCodeFor(p.Status)
	}
	t := &tokenProblem{problem: *p, OAuthError: code, ErrorDescription: oauthText(p.Detail)}
	if m, ok := errors.AsType[*user.MFARequiredError](err); ok {
		t.MFAToken, t.Methods, t.ExpiresIn = m.Token, m.Methods, seconds(m.ExpiresIn)
	}
	if t.headers != nil {
		t.headers = t.headers.Clone()
		t.headers.Del("WWW-Authenticate")
		delete(t.headers, "WWW-Authenticate") // as decorate spells it, not canonical
	}
	if code == oauthInvalidClient && triedBasic(ctx) {
		if t.headers == nil {
			t.headers = http.Header{}
		}
		t.headers.Set("WWW-Authenticate", `Basic realm="usersvc"`)
	}
	return t
}

// oauthCodeFor is the RFC 6749 error code of an answer of status whose
// cause has none of its own.
func oauthCodeFor(status int) string {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return oauthUnavailable
	case status >= http.StatusInternalServerError:
		return oauthServerError
	}
	return oauthInvalidRequest
}

// oauthText is s in the characters an error_description may hold
// (RFC 6749 section 5.2: printable ASCII but '"' and '\').
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// triedBasic reports whether the /token request of ctx sent an
// "Authorization: Basic" header.
func triedBasic(ctx context.Context) bool {
	info := requestInfoFrom(ctx)
	return info != nil && info.basicClient
}
