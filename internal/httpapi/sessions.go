package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// logout ends the current session, or with scope=all every session of the
// user. Its access tokens are refused from the next request on.
func (a *api) logout(ctx context.Context, in *logoutInput) (*struct{}, error) {
	me, err := currentUser(ctx)
	if err == nil {
		if in.Scope == "all" {
			err = a.users.LogoutAll(ctx, me.ID)
		} else {
			err = a.users.Logout(ctx, me.ID, currentSession(ctx))
		}
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func (a *api) listSessions(ctx context.Context, _ *struct{}) (*sessionsOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	all, err := a.users.Sessions(ctx, me.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	current := currentSession(ctx)
	out := make([]sessionRead, len(all))
	for i, s := range all {
		out[i] = sessionRead{
			ID: s.ID.String(), CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(),
			ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.UserAgent, IP: s.IP, Current: s.ID == current,
		}
	}
	return &sessionsOutput{Body: out}, nil
}

func (a *api) revokeSession(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return nil, a.problem(ctx, user.ErrSessionNotFound)
	}
	if err := a.users.RevokeSession(ctx, me.ID, id); err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

// tokenLimits is limited for /token: a refresh grant counts against the
// Refresh rule, a password grant against the Login rule.
func (a *api) tokenLimits(op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		r, _ := humago.Unwrap(ctx)
		ip := a.clientIP.IP(r)
		rule := a.limits.Login
		if peekGrantType(r.Body, func(b io.ReadCloser) { r.Body = b }) == grantRefresh {
			rule = a.limits.Refresh
		}
		if !a.allow(ctx, rule, clientKey(ip)) {
			return
		}
		next(ctx)
	})
	return op
}

// peekGrantType reads the grant_type of a form body and hands set a body
// that reads the same again (with the same error at the end, if any).
func peekGrantType(body io.ReadCloser, set func(io.ReadCloser)) string {
	b, err := io.ReadAll(body)
	var rest io.Reader = bytes.NewReader(b)
	if err != nil {
		rest = io.MultiReader(rest, errReader{err})
	}
	set(struct {
		io.Reader
		io.Closer
	}{rest, body})
	values, _ := url.ParseQuery(string(b))
	return values.Get("grant_type")
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
