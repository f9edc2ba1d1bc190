package httpapi

import (
	"context"

	"github.com/usersvc/usersvc/internal/ratelimit"
)

// Email verification and password reset.

// resetAccepted is the whole answer to every password reset request that
// is well formed, whether the account exists or not.
const resetAccepted = "If an account with that email exists, we have sent a link to reset its password."

// verificationSent answers a verification resend.
const verificationSent = "We have sent a new verification link to your email address."

type emailVerification struct {
	Token string `json:"token" minLength:"1" maxLength:"128" doc:"The token of the verification mail"`
}

type passwordResetRequest struct {
	Email string `json:"email" format:"email" maxLength:"254" example:"ada@example.com"`
}

type passwordResetConfirm struct {
	Token       string `json:"token" minLength:"1" maxLength:"128" doc:"The token of the reset mail"`
	NewPassword string `json:"new_password" format:"password" minLength:"8" maxLength:"72" doc:"8 characters to 72 bytes; the password policy applies"`
}

// accepted is the body of a 202: what will happen, in words.
type accepted struct {
	Detail string `json:"detail"`
}

type verifyEmailInput struct{ Body emailVerification }

type passwordResetInput struct{ Body passwordResetRequest }

type passwordResetConfirmInput struct{ Body passwordResetConfirm }

type acceptedOutput struct{ Body accepted }

func (a *api) verifyEmail(ctx context.Context, in *verifyEmailInput) (*userOutput, error) {
	u, err := a.users.VerifyEmail(ctx, in.Body.Token)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &userOutput{Body: toUserRead(u)}, nil
}

func (a *api) resendVerification(ctx context.Context, _ *struct{}) (*acceptedOutput, error) {
	me, err := currentUser(ctx)
	if err == nil {
		_, err = a.limit(ctx, a.limits.MailRecipient, ratelimit.VerifyRecipientKey(me.ID))
	}
	if err == nil {
		err = a.users.ResendVerification(ctx, me)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &acceptedOutput{Body: accepted{Detail: verificationSent}}, nil
}

// requestPasswordReset answers the same for every well-formed email: the
// service looks the account up only after the answer is on its way.
func (a *api) requestPasswordReset(ctx context.Context, in *passwordResetInput) (*acceptedOutput, error) {
	_, err := a.limit(ctx, a.limits.MailRecipient, ratelimit.ResetRecipientKey(in.Body.Email))
	if err == nil {
		err = a.users.RequestPasswordReset(ctx, in.Body.Email)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &acceptedOutput{Body: accepted{Detail: resetAccepted}}, nil
}

func (a *api) confirmPasswordReset(ctx context.Context, in *passwordResetConfirmInput) (*struct{}, error) {
	if _, err := a.users.ResetPassword(ctx, in.Body.Token, in.Body.NewPassword); err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

type undoInput struct{ Body emailVerification }

// undoEmailChange uses the link an email change mailed to the previous
// address: the address comes back and every session ends.
func (a *api) undoEmailChange(ctx context.Context, in *undoInput) (*struct{}, error) {
	if err := a.users.UndoEmailChange(ctx, in.Body.Token); err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
