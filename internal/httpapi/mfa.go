package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/user"
)

// Second factors (issue 22): the account's TOTP authenticator and
// recovery codes, the administrators' reset, and the MFA policy on the
// routes behind a token. The mfa_required exchange is part of /token
// (token.go, tokenform.go).

// mfaStatus is what an account has of second factors.
type mfaStatus struct {
	TOTP          string   `json:"totp" enum:"none,pending,enabled" doc:"The TOTP authenticator: none, pending (enrolled, waiting for its first code) or enabled"`
	RecoveryCodes int      `json:"recovery_codes_left" doc:"How many unused recovery codes are left"`
	Methods       []string `json:"methods" doc:"The methods a password login of this account is asked for (empty: none)"`
}

type mfaStatusOutput struct{ Body mfaStatus }

// totpEnrolment is a new TOTP secret, shown once.
type totpEnrolment struct {
	Secret    string `json:"secret" doc:"The shared secret (base32), for typing into an authenticator app; shown only now"`
	URI       string `json:"otpauth_uri" doc:"The otpauth:// URI of the secret (what the QR code holds)"`
	QRCode    []byte `json:"qr_code_png" doc:"The URI as a QR code, a PNG image (base64)"`
	QRDataURI string `json:"qr_code_data_uri" doc:"The same PNG as a data: URI, for an img element"`
	Setup     string `json:"setup" doc:"The handle of this set-up: send it back with the first code, so that a code of an app that scanned a secret a newer set-up replaced (another window or device) answers 409 totp_setup_replaced instead of invalid_code"`
}

type totpEnrolmentOutput struct{ Body totpEnrolment }

type confirmTOTPInput struct {
	Body struct {
		Code  string `json:"code" minLength:"6" maxLength:"6" doc:"The six digits the authenticator app shows now"`
		Setup string `json:"setup,omitempty" required:"false" maxLength:"512" doc:"The setup handle of the enrolment the user scanned, if the client kept it"`
	}
}

// recoveryCodes is a new set of recovery codes, shown once.
type recoveryCodes struct {
	Codes []string `json:"recovery_codes" doc:"Ten recovery codes, each usable once in place of a TOTP code (grant urn:usersvc:params:oauth:grant-type:mfa-recovery-code); shown only now"`
}

type recoveryCodesOutput struct{ Body recoveryCodes }

// mfaExempt are the operations the policy RequireMFAForAll leaves to an
// account without a second factor: enough to read the account, enrol one
// and log out.
var mfaExempt = []string{"readMe", "logout", "reauthenticate", "readMFA", "enrolTOTP", "confirmTOTP", "removeTOTP", "regenerateRecoveryCodes"}

// assured applies the MFA policy (user.Service.RequireAssurance) to op,
// behind authenticate: admin says op is one of the administrators'.
func (a *api) assured(op huma.Operation, admin bool) huma.Operation {
	policy := a.users.MFAPolicy()
	if policy == user.RequireMFAForNone || (!admin && (policy != user.RequireMFAForAll || slices.Contains(mfaExempt, op.OperationID))) {
		return op
	}
	op.Middlewares = append(op.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		me, err := currentCaller(ctx.Context())
		if err == nil {
			err = a.users.RequireAssurance(ctx.Context(), me, admin)
		}
		if err != nil {
			a.writeProblem(ctx, a.problem(ctx.Context(), err))
			return
		}
		next(ctx)
	})
	if !slices.Contains(op.Errors, http.StatusForbidden) {
		op.Errors = append(op.Errors, http.StatusForbidden)
	}
	return op
}

func (a *api) readMFA(ctx context.Context, _ *struct{}) (*mfaStatusOutput, error) {
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	st, err := a.users.MFAStatus(ctx, me.User.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &mfaStatusOutput{Body: toMFAStatus(st)}, nil
}

// toMFAStatus is the wire shape of st.
func toMFAStatus(st user.MFAStatus) mfaStatus {
	return mfaStatus{TOTP: st.TOTP, RecoveryCodes: st.RecoveryCodes, Methods: st.Methods}
}

func (a *api) enrolTOTP(ctx context.Context, _ *struct{}) (*totpEnrolmentOutput, error) {
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	key, err := a.users.EnrolTOTP(ctx, me)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &totpEnrolmentOutput{Body: totpEnrolment{
		Secret: key.Secret, URI: key.URI, QRCode: key.QRCode, Setup: key.Setup,
		QRDataURI: "data:image/png;base64," + base64.StdEncoding.EncodeToString(key.QRCode),
	}}, nil
}

func (a *api) confirmTOTP(ctx context.Context, in *confirmTOTPInput) (*recoveryCodesOutput, error) {
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	codes, err := a.users.ConfirmTOTPSetup(ctx, me, in.Body.Code, in.Body.Setup)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &recoveryCodesOutput{Body: recoveryCodes{Codes: codes}}, nil
}

func (a *api) removeTOTP(ctx context.Context, _ *struct{}) (*struct{}, error) {
	me, err := currentCaller(ctx)
	if err == nil {
		err = a.users.RemoveTOTP(ctx, me)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}

func (a *api) regenerateRecoveryCodes(ctx context.Context, _ *struct{}) (*recoveryCodesOutput, error) {
	me, err := currentCaller(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	codes, err := a.users.RegenerateRecoveryCodes(ctx, me)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &recoveryCodesOutput{Body: recoveryCodes{Codes: codes}}, nil
}

func (a *api) resetUserMFA(ctx context.Context, in *adminUserInput) (*struct{}, error) {
	me, id, err := adminTarget(ctx, in.ID)
	if err == nil {
		err = a.users.AdminResetMFA(ctx, me, id)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &struct{}{}, nil
}
