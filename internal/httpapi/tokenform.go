package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// Reading a /token request as RFC 6749 asks (sections 3.2 and 5.2): a
// form, or the same fields as a JSON object; a parameter with an empty
// value counts as absent (section 3.1), so that a form that sends every
// field of both grants, as Swagger UI's does, works; an unknown parameter
// is ignored; a parameter given twice is refused. A public client names
// itself with client_id, in the form or as the user of HTTP Basic
// authentication with an empty password (section 2.3.1). A confidential
// client of the registry (internal/oauthclient) sends its secret by HTTP
// Basic (client_secret_basic) or as client_secret (client_secret_post),
// never both; token.go checks it against the registry.

// Errors of the /token body that the service cannot see.
var (
	errNotForm       = errors.New("the body must be application/x-www-form-urlencoded or application/json")
	errMalformedForm = errors.New("the body is not a well-formed application/x-www-form-urlencoded form")
	errMalformedJSON = errors.New("the body is not a well-formed JSON object")
	errEmptyBody     = errors.New("request body is required") // as huma words it for the JSON routes
	errTooLarge      = errors.New("request body is too large")
	// errInvalidClient is client authentication that cannot succeed
	// whatever the registry holds: a Basic header that does not decode, a
	// secret sent twice or without a client id.
	errInvalidClient = errors.New("client authentication failed: send client_id with its secret once, by HTTP Basic or as client_secret")
	// errUnsupportedGrant and errInvalidScope are field errors that RFC
	// 6749 gives an error code of their own.
	errUnsupportedGrant = &user.ValidationError{Field: "grant_type", Message: `must be "password", "refresh_token", "` + grantMFAOTP + `", "` + grantMFARecoveryCode + `" or "` + grantMFAWebAuthn + `"`}
	errInvalidScope     = &user.ValidationError{Field: "scope", Message: "must be scope tokens (printable ASCII but '\"' and '\\') separated by single spaces"}
)

// jsonType is the media type of a JSON body.
const jsonType = "application/json"

// The grant types /token takes.
const (
	grantPassword = "password"
	grantRefresh  = "refresh_token"
	// The second step of a password login that answered mfa_required
	// (mfa_login.go): the mfa_token and a TOTP code, or a recovery code.
	grantMFAOTP          = "urn:usersvc:params:oauth:grant-type:mfa-otp"
	grantMFARecoveryCode = "urn:usersvc:params:oauth:grant-type:mfa-recovery-code"
	// grantMFAWebAuthn is the second step with a passkey: the mfa_token,
	// the ceremony of POST /api/v1/mfa/webauthn/options and the
	// credential (the PublicKeyCredential's toJSON(), as a string).
	grantMFAWebAuthn = "urn:usersvc:params:oauth:grant-type:mfa-webauthn"
)

// maxClientID is the longest client_id accepted, in bytes.
const maxClientID = 255

// tokenFields are the parameters /token reads; any other is ignored.
var tokenFields = []string{"grant_type", "username", "password", "refresh_token", "scope", "device_token", "client_id", "client_secret",
	"mfa_token", "otp", "recovery_code", "ceremony", "credential"}

// tokenRequest is a parsed /token request.
type tokenRequest struct {
	grantType, username, password, refreshToken string
	// deviceToken is the device_token of an earlier login's answer, if the
	// client sends it back: that device is then not held back by failures
	// from elsewhere.
	deviceToken string
	// clientID names the client that sends the request, "" when it does
	// not say; it is recorded with the audit event. clientSecret is its
	// secret, sent by secretMethod (oauthclient.AuthSecretBasic or
	// AuthSecretPost), "" when none was sent.
	clientID, clientSecret, secretMethod string
	// mfaToken and code are a second step's: the mfa_token of the
	// mfa_required answer and the otp or recovery_code.
	mfaToken, code string
	// ceremony and credential are a passkey second step's: the handle of
	// its options and the authenticator's assertion (JSON).
	ceremony, credential string
}

// tokenParams are the non-empty known parameters of a /token body, and
// the field errors met reading them.
type tokenParams struct {
	values map[string]string
	errs   []error
}

// readBody reads the request body, at most maxBodyBytes of it.
func (a *api) readBody(ctx huma.Context) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(ctx.BodyReader(), a.maxBodyBytes+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || int64(len(body)) > a.maxBodyBytes {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, errMalformedForm
	}
	if len(body) == 0 {
		return nil, errEmptyBody
	}
	return body, nil
}

// formTokenParams reads a form body.
func formTokenParams(body []byte) (tokenParams, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return tokenParams{}, errMalformedForm
	}
	p := tokenParams{values: map[string]string{}}
	for _, name := range tokenFields {
		v := values[name]
		switch {
		case len(v) == 0:
		case !utf8.ValidString(v[0]):
			p.errs = append(p.errs, &user.ValidationError{Field: name, Message: "must be valid UTF-8"})
			p.values[name] = v[0] // so that it is not also reported missing
		case len(v) > 1:
			p.errs = append(p.errs, &user.ValidationError{Field: name, Message: "must be given once"})
			p.values[name] = v[0] // so that it is not also reported missing
		case v[0] != "":
			p.values[name] = v[0]
		}
	}
	return p, nil
}

// jsonTokenParams reads a JSON object body: a known member is a string
// or null (absent), given once; unknown members may hold anything.
func jsonTokenParams(body []byte) (tokenParams, error) {
	if !utf8.Valid(body) {
		return tokenParams{}, errInvalidUTF8
	}
	if hasLoneSurrogate(body) {
		return tokenParams{}, errLoneSurrogate
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return tokenParams{}, errMalformedJSON
	}
	p := tokenParams{values: map[string]string{}}
	seen := map[string]bool{}
	errs := map[string]error{} // reported in tokenFields' order
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return tokenParams{}, errMalformedJSON
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return tokenParams{}, errMalformedJSON
		}
		if !slices.Contains(tokenFields, name) {
			continue
		}
		if seen[name] {
			errs[name] = &user.ValidationError{Field: name, Message: "must be given once"}
			continue
		}
		seen[name] = true
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			errs[name] = &user.ValidationError{Field: name, Message: "must be a string"}
		} else if v != nil && *v != "" {
			p.values[name] = *v
		}
	}
	for _, name := range tokenFields {
		if err := errs[name]; err != nil {
			p.errs = append(p.errs, err)
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return tokenParams{}, errMalformedJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return tokenParams{}, errMalformedJSON
	}
	return p, nil
}

// basicClient returns the client id and secret of an "Authorization:
// Basic" header (RFC 6749 section 2.3.1: the id and password
// form-encoded, then base64), "" for none or another scheme (a bearer
// token is ignored). A header that does not decode, or a secret without
// an id, fails client authentication.
func basicClient(header string) (id, secret string, err error) {
	if !isBasic(header) {
		return "", "", nil
	}
	_, creds, _ := strings.Cut(header, " ")
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return "", "", errInvalidClient
	}
	id, secret, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errInvalidClient
	}
	if id, err = url.QueryUnescape(id); err != nil {
		return "", "", errInvalidClient
	}
	if secret, err = url.QueryUnescape(secret); err != nil {
		return "", "", errInvalidClient
	}
	if id == "" && secret == "" {
		return "", "", nil
	}
	if id == "" || !validClientID(id) {
		return "", "", errInvalidClient
	}
	return id, secret, nil
}

// isBasic reports whether an Authorization header is of the Basic scheme.
func isBasic(header string) bool {
	scheme, _, ok := strings.Cut(header, " ")
	return ok && strings.EqualFold(scheme, "Basic")
}

// validClientID reports whether id is an RFC 6749 client_id (printable
// ASCII and space, appendix A.1) of at most maxClientID bytes.
func validClientID(id string) bool {
	return len(id) <= maxClientID && strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}

// validScope reports whether s is an RFC 6749 scope (section 3.3).
func validScope(s string) bool {
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" || strings.IndexFunc(tok, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) >= 0 {
			return false
		}
	}
	return true
}

// request checks p as a request of its grant: a password grant
// (grant_type absent or "password") requires username and password; a
// refresh grant requires refresh_token. basic and basicSecret are the
// client id and secret of the Authorization header, if any.
func (p tokenParams) request(basic, basicSecret string) (*tokenRequest, error) {
	v := p.values
	f := &tokenRequest{grantType: v["grant_type"], clientID: v["client_id"]}
	errs := p.errs
	switch f.grantType {
	case "", grantPassword:
		f.grantType = grantPassword
		errs = append(errs, checkPasswordGrant(f, v)...)
	case grantRefresh:
		if f.refreshToken = v["refresh_token"]; f.refreshToken == "" {
			errs = append(errs, &user.ValidationError{Field: "refresh_token", Message: "is required"})
		}
	case grantMFAOTP:
		errs = append(errs, checkMFAGrant(f, v, "otp")...)
	case grantMFARecoveryCode:
		errs = append(errs, checkMFAGrant(f, v, "recovery_code")...)
	case grantMFAWebAuthn:
		errs = append(errs, checkWebAuthnGrant(f, v)...)
	default:
		errs = append(errs, errUnsupportedGrant)
	}
	if s, ok := v["scope"]; ok && !validScope(s) {
		errs = append(errs, errInvalidScope)
	}
	switch post := v["client_secret"]; {
	case post != "" && basicSecret != "", post != "" && f.clientID == "" && basic == "":
		return nil, errInvalidClient // two methods, or a secret of no client
	case post != "":
		f.clientSecret, f.secretMethod = post, oauthclient.AuthSecretPost
	case basicSecret != "":
		f.clientSecret, f.secretMethod = basicSecret, oauthclient.AuthSecretBasic
	}
	switch {
	case f.clientID != "" && !validClientID(f.clientID):
		errs = append(errs, &user.ValidationError{Field: "client_id", Message: "must be at most 255 characters of printable ASCII"})
	case basic != "" && f.clientID != "" && basic != f.clientID:
		errs = append(errs, &user.ValidationError{Field: "client_id", Message: "must be the client of the Authorization header"})
	case basic != "":
		f.clientID = basic
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// checkPasswordGrant reads the fields of a password grant into f.
func checkPasswordGrant(f *tokenRequest, v map[string]string) []error {
	var errs []error
	f.username, f.password, f.deviceToken = v["username"], v["password"], v["device_token"]
	if f.username == "" {
		errs = append(errs, &user.ValidationError{Field: "username", Message: "is required"})
	} else if strings.IndexFunc(f.username, unicode.IsControl) >= 0 {
		errs = append(errs, &user.ValidationError{Field: "username", Message: "must not contain control characters"})
	}
	if f.password == "" {
		errs = append(errs, &user.ValidationError{Field: "password", Message: "is required"})
	}
	return errs
}

// maxMFACode is the longest otp or recovery_code read, in bytes.
const maxMFACode = 64

// checkMFAGrant reads the fields of a second step into f: mfa_token and
// the code of field (otp or recovery_code).
func checkMFAGrant(f *tokenRequest, v map[string]string, field string) []error {
	var errs []error
	if f.mfaToken = v["mfa_token"]; f.mfaToken == "" {
		errs = append(errs, &user.ValidationError{Field: "mfa_token", Message: "is required"})
	}
	switch f.code = v[field]; {
	case f.code == "":
		errs = append(errs, &user.ValidationError{Field: field, Message: "is required"})
	case len(f.code) > maxMFACode:
		errs = append(errs, &user.ValidationError{Field: field, Message: "must be at most 64 characters"})
	}
	return errs
}

// maxCeremony is the longest ceremony handle read, in bytes.
const maxCeremony = 128

// checkWebAuthnGrant reads the fields of a passkey second step into f:
// mfa_token, ceremony and credential.
func checkWebAuthnGrant(f *tokenRequest, v map[string]string) []error {
	var errs []error
	if f.mfaToken = v["mfa_token"]; f.mfaToken == "" {
		errs = append(errs, &user.ValidationError{Field: "mfa_token", Message: "is required"})
	}
	switch f.ceremony = v["ceremony"]; {
	case f.ceremony == "":
		errs = append(errs, &user.ValidationError{Field: "ceremony", Message: "is required"})
	case len(f.ceremony) > maxCeremony:
		errs = append(errs, &user.ValidationError{Field: "ceremony", Message: "must be at most 128 characters"})
	}
	switch f.credential = v["credential"]; {
	case f.credential == "":
		errs = append(errs, &user.ValidationError{Field: "credential", Message: "is required"})
	case len(f.credential) > passkey.MaxResponse:
		errs = append(errs, &user.ValidationError{Field: "credential", Message: "must be at most 16384 bytes"})
	}
	return errs
}
