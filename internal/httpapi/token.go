package httpapi

import (
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/user"
)

// The /token endpoint (OAuth2's password and refresh_token grants). Its
// form is read and parsed once, by readToken, before anything else of the
// operation: the grant it names picks the per-address rate limit, and the
// handler takes the parsed form from the request.

// Errors of the /token body that the service cannot see.
var (
	errNotForm       = errors.New("the body must be application/x-www-form-urlencoded")
	errMalformedForm = errors.New("the body is not a well-formed application/x-www-form-urlencoded form")
	errEmptyBody     = errors.New("request body is required") // as huma words it for the JSON routes
	errTooLarge      = errors.New("request body is too large")
)

// The grant types /token takes.
const (
	grantPassword = "password"
	grantRefresh  = "refresh_token"
)

// tokenRequest is a parsed /token request.
type tokenRequest struct {
	grantType, username, password, refreshToken string
	// deviceToken is the device_token of an earlier login's answer, if the
	// client sends it back: that device is then not held back by failures
	// from elsewhere.
	deviceToken string
}

// tokenOp is op for /token: readToken reads the form and applies the
// per-address limit of its grant, Login or Refresh.
func (a *api) tokenOp(op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	op.Middlewares = append(op.Middlewares, a.readToken)
	return op
}

// readToken is the operation middleware of /token: it reads and parses
// the form, counts the request against its grant's limit, and hands the
// form to the handler in the request's requestInfo.
func (a *api) readToken(ctx huma.Context, next func(huma.Context)) {
	form, err := a.parseToken(ctx)
	if err != nil {
		a.writeProblem(ctx, a.problem(ctx.Context(), err))
		return
	}
	rule := a.limits.Login
	if form.grantType == grantRefresh {
		rule = a.limits.Refresh
	}
	if !a.allow(ctx, rule, a.clientKey(ctx)) {
		return
	}
	info := requestInfoFrom(ctx.Context())
	if info == nil { // New always puts withRequestID first
		a.writeProblem(ctx, a.problem(ctx.Context(), errNoRequestInfo))
		return
	}
	info.token = form
	next(ctx)
}

// parseToken reads the /token body, at most maxBodyBytes of it.
func (a *api) parseToken(ctx huma.Context) (*tokenRequest, error) {
	if mt, _, err := mime.ParseMediaType(ctx.Header("Content-Type")); err != nil || mt != formURLEncoded {
		return nil, errNotForm
	}
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
	form, err := readTokenForm(body)
	if err != nil {
		return nil, err
	}
	return form, nil
}

// readTokenForm parses the /token body. Every field of tokenForm may be
// given once and no other. A password grant (grant_type absent or
// "password") requires username and password; a refresh grant requires
// refresh_token and takes neither of them.
func readTokenForm(body []byte) (*tokenRequest, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errMalformedForm
	}
	f := &tokenRequest{grantType: values.Get("grant_type")}
	allowed := map[string]bool{"grant_type": true, "scope": true}
	switch f.grantType {
	case "", grantPassword:
		f.grantType = grantPassword
		allowed["username"], allowed["password"], allowed["device_token"] = true, true, true
	case grantRefresh:
		allowed["refresh_token"] = true
	default:
		return nil, &user.ValidationError{Field: "grant_type", Message: `must be "password" or "refresh_token"`}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch v := values[name]; {
		case !allowed[name]:
			errs = append(errs, &user.ValidationError{Field: name, Message: "unexpected property"})
		case len(v) > 1:
			errs = append(errs, &user.ValidationError{Field: name, Message: "must be given once"})
		case !utf8.ValidString(v[0]):
			errs = append(errs, &user.ValidationError{Field: name, Message: "must be valid UTF-8"})
		}
	}
	if f.grantType == grantPassword {
		errs = append(errs, checkPasswordGrant(f, values)...)
	} else if f.refreshToken = values.Get("refresh_token"); f.refreshToken == "" {
		errs = append(errs, &user.ValidationError{Field: "refresh_token", Message: "is required"})
	}
	return f, errors.Join(errs...)
}

// checkPasswordGrant reads the fields of a password grant into f.
func checkPasswordGrant(f *tokenRequest, values url.Values) []error {
	var errs []error
	f.username, f.password, f.deviceToken = values.Get("username"), values.Get("password"), values.Get("device_token")
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

// token answers /token with the form readToken parsed.
func (a *api) token(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
	info := requestInfoFrom(ctx)
	if info == nil || info.token == nil {
		return nil, a.problem(ctx, errNoRequestInfo)
	}
	form := info.token
	var t user.AccessToken
	var err error
	if form.grantType == grantRefresh {
		t, err = a.users.Refresh(ctx, form.refreshToken)
	} else {
		t, err = a.users.Login(ctx, form.username, form.password, form.deviceToken)
		a.countLogin(err)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &tokenOutput{
		CacheControl: "no-store",
		Body: token{
			AccessToken: t.Token, TokenType: "bearer",
			ExpiresIn: seconds(t.ExpiresIn), RefreshToken: t.RefreshToken, DeviceToken: t.DeviceToken,
		},
	}, nil
}

// countLogin counts a login attempt by how it ended.
func (a *api) countLogin(err error) {
	switch {
	case err == nil:
		a.metrics.Login("success")
	case errors.Is(err, user.ErrInvalidCredentials):
		a.metrics.Login("failure")
	case errors.Is(err, user.ErrLocked):
		a.metrics.Login("locked")
	case errors.Is(err, user.ErrRateLimited):
		a.metrics.Login("rate_limited")
	case errors.Is(err, user.ErrBusy):
		a.metrics.Login("busy")
	default:
		a.metrics.Login("error")
	}
}

// documentTokenForm documents the /token body, which readToken reads
// itself (huma would document a raw body as an opaque string).
func documentTokenForm(doc *huma.OpenAPI) {
	schema := doc.Components.Schemas.Schema(reflect.TypeFor[tokenForm](), true, "TokenForm")
	doc.Paths["/api/v1/token"].Post.RequestBody = &huma.RequestBody{
		Required: true,
		Content:  map[string]*huma.MediaType{formURLEncoded: {Schema: schema}},
	}
}
