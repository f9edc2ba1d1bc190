package httpapi

import (
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// The /token endpoint (OAuth2's password and refresh_token grants, RFC
// 6749 sections 4.3 and 6). Its body is read and parsed once, by
// readToken, before anything else of the operation: the grant it names
// picks the per-address rate limit, and the handler takes the parsed
// request from the request's requestInfo. Every error of /token is an RFC
// 6749 section 5.2 error (tokenerror.go).

// tokenPath is where the token endpoint is.
const tokenPath = "/api/v1/token" //nolint:gosec // a path, no credential

// readToken is the operation middleware of /token: it reads and parses
// the body (tokenform.go), counts the request against its grant's limit,
// and hands the parsed request to the handler in the request's
// requestInfo.
func (a *api) readToken(ctx huma.Context, next func(huma.Context)) {
	info := requestInfoFrom(ctx.Context())
	if info == nil { // New always puts withRequestID first
		a.writeProblem(ctx, a.tokenError(ctx.Context(), errNoRequestInfo))
		return
	}
	info.basicClient = isBasic(ctx.Header("Authorization"))
	form, err := a.parseToken(ctx)
	if err != nil {
		a.writeProblem(ctx, a.tokenError(ctx.Context(), err))
		return
	}
	rule := a.limits.Login
	if form.grantType == grantRefresh {
		rule = a.limits.Refresh
	}
	res, err := a.limit(ctx.Context(), rule, a.clientKey(ctx))
	if err != nil {
		a.writeProblem(ctx, a.tokenError(ctx.Context(), err))
		return
	}
	for name, v := range rateHeaders(res) {
		ctx.SetHeader(name, v[0])
	}
	info.token, info.counted = form, res
	next(ctx)
}

// tokenOp is op for /token: readToken reads the body and applies the
// per-address limit of its grant, Login or Refresh.
func (a *api) tokenOp(op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	op.Middlewares = append(op.Middlewares, a.readToken)
	return op
}

// parseToken reads the /token body, at most maxBodyBytes of it, as a form
// or a JSON object, and the client of its Authorization header.
func (a *api) parseToken(ctx huma.Context) (*tokenRequest, error) {
	mt, _, err := mime.ParseMediaType(ctx.Header("Content-Type"))
	if err != nil || (mt != formURLEncoded && mt != jsonType) {
		return nil, errNotForm
	}
	body, err := a.readBody(ctx)
	if err != nil {
		return nil, err
	}
	var p tokenParams
	if mt == jsonType {
		p, err = jsonTokenParams(body)
	} else {
		p, err = formTokenParams(body)
	}
	if err != nil {
		return nil, err
	}
	basic, secret, err := basicClient(ctx.Header("Authorization"))
	if err != nil {
		return nil, err
	}
	return p.request(basic, secret)
}

// token answers /token with the request readToken parsed.
func (a *api) token(ctx context.Context, _ *struct{}) (*tokenOutput, error) {
	info := requestInfoFrom(ctx)
	if info == nil || info.token == nil {
		return nil, a.tokenError(ctx, errNoRequestInfo)
	}
	form := info.token
	ctx = user.WithClientID(ctx, form.clientID)
	if err := a.checkClient(ctx, form); err != nil {
		return nil, a.tokenError(ctx, err)
	}
	var t user.AccessToken
	var err error
	switch form.grantType {
	case grantRefresh:
		t, err = a.users.Refresh(ctx, form.refreshToken)
	case grantMFAOTP:
		t, err = a.users.LoginWithOTP(ctx, form.mfaToken, form.code)
	case grantMFARecoveryCode:
		t, err = a.users.LoginWithRecoveryCode(ctx, form.mfaToken, form.code)
	case grantMFAWebAuthn:
		t, err = a.users.LoginWithChallenge(ctx, form.mfaToken, passkey.Method, form.ceremony, []byte(form.credential))
	default:
		t, err = a.users.Login(ctx, form.username, form.password, form.deviceToken)
	}
	if form.grantType != grantRefresh {
		a.loginEnded(ctx, err)
	}
	if err != nil {
		return nil, a.tokenError(ctx, err)
	}
	return &tokenOutput{
		CacheControl: "no-store",
		Body: token{
			AccessToken: t.Token, TokenType: "bearer",
			ExpiresIn: seconds(t.ExpiresIn), RefreshToken: t.RefreshToken, DeviceToken: t.DeviceToken,
		},
	}, nil
}

// checkClient applies the client registry to a /token request that names
// a client (issue 23), before any password is checked: a registered
// client must authenticate as registered (a confidential one with its
// secret: invalid_client otherwise) and be allowed the grant
// (unauthorized_client otherwise: a third-party client is not allowed the
// password grant unless it was registered with it).
//
// A request that names no client is the design's first-party frontend
// and is served as before; so is one naming a client id that is not
// registered and sending no secret (a client id was only a label for the
// audit log before the registry, and existing callers send one). Neither
// can be told apart from the first-party frontend by anything it sends:
// the password grant cannot keep a public client out, only a registered
// client that asks honestly. A secret for an unregistered client fails.
func (a *api) checkClient(ctx context.Context, form *tokenRequest) error {
	if form.clientID == "" {
		return nil
	}
	if a.clients == nil {
		if form.clientSecret != "" {
			return oauthclient.ErrInvalidClient
		}
		return nil
	}
	_, err := a.clients.AuthorizeGrant(ctx, oauthclient.Credentials{
		ID: form.clientID, Secret: form.clientSecret, Method: form.secretMethod, From: user.ClientFrom(ctx).IP,
	}, form.grantType)
	if errors.Is(err, oauthclient.ErrNotFound) {
		if form.clientSecret != "" {
			return oauthclient.ErrInvalidClient
		}
		return nil
	}
	return err
}

// countLogin counts a login attempt by how it ended.
// loginEnded settles a login step that ended with err: it counts the
// outcome for the metrics, and takes the step's count against the
// per-address login limit back when it proved the password or the factor
// (user.LoginProven: not what that limit is for).
func (a *api) loginEnded(ctx context.Context, err error) {
	if info := requestInfoFrom(ctx); info != nil && user.LoginProven(err) {
		a.limits.refund(ctx, info.counted)
	}
	a.countLogin(err)
}

func (a *api) countLogin(err error) {
	switch {
	case err == nil:
		a.metrics.Login("success")
	case errors.Is(err, user.ErrInvalidCredentials), errors.Is(err, user.ErrInvalidCode):
		a.metrics.Login("failure")
	case errors.Is(err, user.ErrMFARequired):
		a.metrics.Login("mfa_required")
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
