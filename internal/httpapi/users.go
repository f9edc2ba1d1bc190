package httpapi

import (
	"context"

	"github.com/usersvc/usersvc/internal/user"
)

func (a *api) readMe(ctx context.Context, _ *struct{}) (*userOutput, error) {
	u, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

func (a *api) updateMe(ctx context.Context, in *updateInput) (*userOutput, error) {
	me, err := currentUser(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	u, err := a.users.Update(ctx, me.ID, user.Patch{FullName: in.Body.FullName, Email: in.Body.Email})
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

func (a *api) deleteMe(ctx context.Context, _ *struct{}) (*struct{}, error) {
	me, err := currentUser(ctx)
	if err == nil {
		err = a.users.Delete(ctx, me.ID)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func (a *api) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	me, err := currentUser(ctx)
	if err == nil {
		// The session asking stays; every other one is revoked. Its access
		// token carries the old token version, so the client refreshes.
		err = a.users.ChangePasswordKeeping(ctx, me.ID, currentSession(ctx), in.Body.CurrentPassword, in.Body.NewPassword)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
