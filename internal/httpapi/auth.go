package httpapi

import (
	"context"
	"errors"
	"strings"

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

// authenticate is the operation middleware of every route behind a bearer
// token. It puts the token's user in the request context, or answers 401.
func (a *api) authenticate(ctx huma.Context, next func(huma.Context)) {
	token, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		a.writeProblem(ctx, a.problem(ctx.Context(), user.ErrUnauthenticated))
		return
	}
	u, sess, err := a.users.Authenticate(ctx.Context(), token)
	if errors.Is(err, user.ErrUnauthenticated) && a.clients != nil {
		// Not a user's token: perhaps a service account's (serviceaccount.go).
		a.authenticateServiceAccount(ctx, token, err, next)
		return
	}
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
	info.userID, info.user, info.session, info.authed = u.ID.String(), u, sess, true
	next(ctx)
}

var errNoRequestInfo = errors.New("authenticate: the request has no requestInfo")

// currentSession returns the id of the session whose token authenticate
// accepted, uuid.Nil without one.
func currentSession(ctx context.Context) uuid.UUID {
	if info := requestInfoFrom(ctx); info != nil && info.authed {
		return info.session.ID
	}
	return uuid.Nil
}

// currentCaller returns who authenticate found: the user and the session
// of the token. Without one the request is refused, not served.
func currentCaller(ctx context.Context) (user.Caller, error) {
	if info := requestInfoFrom(ctx); info != nil && info.authed {
		return user.Caller{User: info.user, Session: info.session}, nil
	}
	return user.Caller{}, user.ErrUnauthenticated
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
