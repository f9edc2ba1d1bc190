package httpapi

import (
	"context"

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
