package httpapi

import (
	"context"
	"errors"
	"maps"
	"mime"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

func (a *api) register(ctx context.Context, in *registerInput) (*userOutput, error) {
	u, err := a.users.Register(ctx, user.Registration{
		Email: in.Body.Email, Username: in.Body.Username, Password: in.Body.Password,
	})
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

func (a *api) login(ctx context.Context, in *loginInput) (*tokenOutput, error) {
	form, err := readTokenForm(in.ContentType, in.RawBody)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	var t user.AccessToken
	if form.grantType == grantRefresh {
		t, err = a.users.Refresh(ctx, form.refreshToken)
	} else {
		err = a.limitAccount(ctx, form.username)
		if err == nil {
			t, err = a.users.Login(a.knownSession(ctx, in.Authorization), form.username, form.password)
		}
		a.countLogin(err)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &tokenOutput{
		CacheControl: "no-store",
		Body: token{
			AccessToken: t.Token, TokenType: "bearer",
			ExpiresIn: seconds(t.ExpiresIn), RefreshToken: t.RefreshToken,
		},
	}, nil
}

// Errors of the /token body that the service cannot see.
var (
	errNotForm       = errors.New("the body must be application/x-www-form-urlencoded")
	errMalformedForm = errors.New("the body is not a well-formed application/x-www-form-urlencoded form")
)

// The grant types /token takes.
const (
	grantPassword = "password"
	grantRefresh  = "refresh_token"
)

type loginForm struct{ grantType, username, password, refreshToken string }

// readTokenForm parses the /token body. Every field of tokenForm may be
// given once and no other. A password grant (grant_type absent or
// "password") requires username and password; a refresh grant requires
// refresh_token and takes neither of them.
func readTokenForm(contentType string, body []byte) (loginForm, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != formURLEncoded {
		return loginForm{}, errNotForm
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return loginForm{}, errMalformedForm
	}
	f := loginForm{grantType: values.Get("grant_type")}
	allowed := map[string]bool{"grant_type": true, "scope": true}
	switch f.grantType {
	case "", grantPassword:
		f.grantType = grantPassword
		allowed["username"], allowed["password"] = true, true
	case grantRefresh:
		allowed["refresh_token"] = true
	default:
		return f, &user.ValidationError{Field: "grant_type", Message: `must be "password" or "refresh_token"`}
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
		errs = append(errs, checkPasswordGrant(&f, values)...)
	} else {
		if f.refreshToken = values.Get("refresh_token"); f.refreshToken == "" {
			errs = append(errs, &user.ValidationError{Field: "refresh_token", Message: "is required"})
		}
	}
	return f, errors.Join(errs...)
}

// checkPasswordGrant reads the fields of a password grant into f.
func checkPasswordGrant(f *loginForm, values url.Values) []error {
	var errs []error
	f.username, f.password = values.Get("username"), values.Get("password")
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

// authenticate is the operation middleware of every route behind a bearer
// token. It puts the token's user in the request context, or answers 401.
func (a *api) authenticate(ctx huma.Context, next func(huma.Context)) {
	token, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		a.writeProblem(ctx, a.problem(ctx.Context(), user.ErrUnauthenticated))
		return
	}
	u, sess, err := a.users.AuthenticateSession(ctx.Context(), token)
	if err != nil {
		a.writeProblem(ctx, a.problem(ctx.Context(), err))
		return
	}
	info := requestInfoFrom(ctx.Context())
	if info == nil { // New always puts withRequestID first
		a.writeProblem(ctx, a.problem(ctx.Context(), errNoRequestInfo))
		return
	}
	// The request's log lines (the access line included) name u from now on.
	info.userID, info.user, info.session, info.authed = u.ID.String(), u, sess.ID, true
	next(ctx)
}

var errNoRequestInfo = errors.New("authenticate: the request has no requestInfo")

// currentSession returns the id of the session whose token authenticate
// accepted, uuid.Nil without one.
func currentSession(ctx context.Context) uuid.UUID {
	if info := requestInfoFrom(ctx); info != nil && info.authed {
		return info.session
	}
	return uuid.Nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// currentUser returns the user authenticate found. Without one (a route
// registered without authed) the request is refused, not served.
func currentUser(ctx context.Context) (user.User, error) {
	if info := requestInfoFrom(ctx); info != nil && info.authed {
		return info.user, nil
	}
	return user.User{}, user.ErrUnauthenticated
}
