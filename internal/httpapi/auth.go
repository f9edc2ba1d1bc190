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
	form, err := readLoginForm(in.ContentType, in.RawBody)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	err = a.limitAccount(ctx, form.username)
	var t user.AccessToken
	if err == nil {
		t, err = a.users.Login(a.knownSession(ctx, in.Authorization), form.username, form.password)
	}
	a.countLogin(err)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &tokenOutput{
		CacheControl: "no-store",
		Body:         token{AccessToken: t.Token, TokenType: "bearer"},
	}, nil
}

// Errors of the /token body that the service cannot see.
var (
	errNotForm       = errors.New("the body must be application/x-www-form-urlencoded")
	errMalformedForm = errors.New("the body is not a well-formed application/x-www-form-urlencoded form")
)

type loginForm struct{ username, password string }

// readLoginForm parses the /token body. Every field of tokenForm may be
// given once and no other; username and password are required.
func readLoginForm(contentType string, body []byte) (loginForm, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != formURLEncoded {
		return loginForm{}, errNotForm
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return loginForm{}, errMalformedForm
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(values)) {
		switch v := values[name]; {
		case name != "username" && name != "password" && name != "grant_type" && name != "scope":
			errs = append(errs, &user.ValidationError{Field: name, Message: "unexpected property"})
		case len(v) > 1:
			errs = append(errs, &user.ValidationError{Field: name, Message: "must be given once"})
		case !utf8.ValidString(v[0]):
			errs = append(errs, &user.ValidationError{Field: name, Message: "must be valid UTF-8"})
		}
	}
	f := loginForm{username: values.Get("username"), password: values.Get("password")}
	if f.username == "" {
		errs = append(errs, &user.ValidationError{Field: "username", Message: "is required"})
	} else if strings.IndexFunc(f.username, unicode.IsControl) >= 0 {
		errs = append(errs, &user.ValidationError{Field: "username", Message: "must not contain control characters"})
	}
	if f.password == "" {
		errs = append(errs, &user.ValidationError{Field: "password", Message: "is required"})
	}
	if g := values.Get("grant_type"); g != "" && g != "password" {
		errs = append(errs, &user.ValidationError{Field: "grant_type", Message: `must be "password"`})
	}
	return f, errors.Join(errs...)
}

// authenticate is the operation middleware of every route behind a bearer
// token. It puts the token's user in the request context, or answers 401.
func (a *api) authenticate(ctx huma.Context, next func(huma.Context)) {
	token, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		a.writeProblem(ctx, a.problem(ctx.Context(), user.ErrUnauthenticated))
		return
	}
	u, err := a.users.Authenticate(ctx.Context(), token)
	if err != nil {
		a.writeProblem(ctx, a.problem(ctx.Context(), err))
		return
	}
	next(huma.WithContext(ctx, withUser(ctx.Context(), u)))
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

type userKey struct{}

// withUser returns ctx carrying the authenticated user u, with the request's
// logger and access-log line also naming u.
func withUser(ctx context.Context, u user.User) context.Context {
	id := u.ID.String()
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.userID = id
	}
	ctx = withLogger(ctx, logger(ctx).With("user_id", id))
	return context.WithValue(ctx, userKey{}, u)
}

// currentUser returns the user authenticate found. Without one (a route
// registered without authed) the request is refused, not served.
func currentUser(ctx context.Context) (user.User, error) {
	u, ok := ctx.Value(userKey{}).(user.User)
	if !ok {
		return user.User{}, user.ErrUnauthenticated
	}
	return u, nil
}
