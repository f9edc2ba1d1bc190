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

// listSessions lists a page of the current user's active sessions, oldest
// first.
func (a *api) listSessions(ctx context.Context, in *listSessionsInput) (*sessionsOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	after, err := decodeSessionCursor(in.Cursor)
	if err != nil {
		return nil, a.queryProblem(ctx, err)
	}
	page, next, err := a.users.Sessions(ctx, me.ID, after, in.Limit)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	current := currentSession(ctx)
	out := &sessionsOutput{Body: make([]sessionRead, len(page))}
	for i, s := range page {
		out.Body[i] = sessionRead{
			ID: s.ID.String(), CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(),
			ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.UserAgent, IP: s.IP, Current: s.ID == current,
		}
	}
	if next != nil {
		out.NextCursor = next.Cursor()
	}
	return out, nil
}

// errBadSessionCursor is a cursor that no sessions page handed out.
var errBadSessionCursor = &user.ValidationError{Field: "cursor", Message: "is not a cursor from a previous page of the sessions (its Next-Cursor header)"}

// decodeSessionCursor returns the key of a cursor, nil for none.
func decodeSessionCursor(c string) (*user.SessionKey, error) {
	k, ok := user.ParseSessionCursor(c)
	if !ok {
		return nil, errBadSessionCursor
	}
	return k, nil
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
