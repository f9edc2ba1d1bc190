package httpapi

import (
	"errors"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// Service accounts on the admin API (issue 23): a client's own
// client_credentials access token (sub = client_id, a scope, no sid) is
// honoured by the routes marked scoped, with that scope, while the
// client exists and is allowed client_credentials (checked in the
// registry on every request). Anywhere else such a token is refused with
// 403 insufficient_scope and RFC 6750's challenge. A user's token never
// takes this path: it is decided by user.Service.Authenticate first.

// scopeKey is the operation metadata naming the scope a service account
// needs on it.
const scopeKey = "usersvc.scope"

// scoped opens op (behind admin) to service accounts whose token has
// scope; the document says so in its description.
func (a *api) scoped(scope string, op huma.Operation) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[scopeKey] = scope
	op.Description += "Service accounts (a client_credentials token): scope `" + scope + "`."
	return op
}

// authenticateServiceAccount is authenticate for a token that
// authenticates no user: userErr stands unless it is a service account's
// token with the scope op needs.
func (a *api) authenticateServiceAccount(ctx huma.Context, token string, userErr error, next func(huma.Context)) {
	sa, err := a.clients.ServiceAccount(ctx.Context(), token)
	switch {
	case errors.Is(err, oauthclient.ErrNotServiceAccount):
		err = userErr
	case err == nil:
		need, _ := ctx.Operation().Metadata[scopeKey].(string)
		if need == "" || !sa.Has(need) {
			err = &oauthclient.ScopeError{Required: need}
		}
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
	// It acts as an administrator with no account (as the CLI's operator
	// does), and its audit events name the client (client_id).
	info.userID, info.serviceAccount, info.authed = "client:"+sa.ClientID, sa.ClientID, true
	c := user.ServiceAccount(sa.ClientID)
	info.user, info.session = c.User, c.Session
	next(huma.WithContext(ctx, user.WithClientID(ctx.Context(), sa.ClientID)))
}
