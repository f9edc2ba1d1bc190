package httpapi

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/ratelimit"
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
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	current := ""
	if in.Body.CurrentPassword != nil {
		current = *in.Body.CurrentPassword
	}
	if email := in.Body.Email; email != nil && !strings.EqualFold(*email, me.User.Email) {
		if err := a.limitEmailChange(ctx, me.User.ID, *email); err != nil {
			return nil, a.problem(ctx, err)
		}
	}
	u, err := a.users.Update(ctx, me, user.Patch{FullName: in.Body.FullName, Email: in.Body.Email}, current)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

// limitEmailChange counts a change of account id's email to email: per
// account (each change tells whether an address is taken, and mails the
// old and the new one), per client address as every route that mails, and
// per new address, from any account, so that no one can have the service
// mail an inbox without bound.
func (a *api) limitEmailChange(ctx context.Context, id uuid.UUID, email string) error {
	if _, err := a.limitAdmitted(ctx, a.limits.EmailChange, ratelimit.AccountKey(id)); err != nil {
		return err
	}
	if info := requestInfoFrom(ctx); info != nil && info.clientKey != "" {
		if _, err := a.limit(ctx, a.limits.Mail, info.clientKey); err != nil {
			return err
		}
	}
	_, err := a.limit(ctx, a.limits.MailRecipient, ratelimit.ChangeRecipientKey(email))
	return err
}

func (a *api) deleteMe(ctx context.Context, _ *struct{}) (*struct{}, error) {
	me, err := currentCaller(ctx)
	if err == nil {
		err = a.users.Delete(ctx, me)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func (a *api) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	me, err := currentCaller(ctx)
	if err == nil {
		// The session asking stays; every other one is revoked. Its access
		// token carries the old token version, so the client refreshes.
		err = a.users.ChangePassword(ctx, me, in.Body.CurrentPassword, in.Body.NewPassword)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

// reauthenticate renews the session's authentication time once the
// password is right: sensitive changes are then allowed for
// USERSVC_REAUTH_WINDOW.
func (a *api) reauthenticate(ctx context.Context, in *reauthInput) (*struct{}, error) {
	me, err := currentCaller(ctx)
	if err == nil {
		err = a.users.Reauthenticate(ctx, me, in.Body.Password)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
