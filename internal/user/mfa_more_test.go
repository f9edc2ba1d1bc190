package user_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// factorKind is another kind of second factor (passkeys, in the service):
// enrolled for the ids it lists, failing with err when set.
type factorKind struct {
	enrolled map[uuid.UUID]bool
	err      error
	reset    []uuid.UUID
}

func (k *factorKind) Method() string { return "webauthn" }

func (k *factorKind) Enrolled(_ context.Context, id uuid.UUID) (bool, error) {
	return k.enrolled[id], k.err
}

func (k *factorKind) EnrolledIn(ctx context.Context, _ user.Stores, id uuid.UUID) (bool, error) {
	return k.Enrolled(ctx, id)
}

func (k *factorKind) Reset(_ context.Context, _ user.Stores, id uuid.UUID) error {
	k.reset = append(k.reset, id)
	return k.err
}

// Another kind of factor counts as a second factor: the status lists its
// method (and recovery codes), the policy asks its holder for it, an
// administrator's reset clears it, and a failing kind fails each of them
// rather than letting a login through without its factor.
func TestOtherFactorKinds(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	kind := &factorKind{enrolled: map[uuid.UUID]bool{}}
	deps := f.deps()
	deps.MFA = user.MFA{More: []user.SecondFactor{kind}}
	svc := user.NewService(deps, user.Policy{RequireMFA: user.RequireMFAForAll})
	ada := f.register(t, ada)
	caller := user.Caller{User: ada}

	if err := svc.RequireAssurance(ctx, caller, false); !errors.Is(err, user.ErrMFAEnrolmentRequired) {
		t.Errorf("RequireAssurance without a factor = %v, want ErrMFAEnrolmentRequired", err)
	}
	kind.enrolled[ada.ID] = true
	st, err := svc.MFAStatus(ctx, ada.ID)
	if err != nil || len(st.Methods) != 2 || st.Methods[0] != "webauthn" || st.Methods[1] != user.MethodRecoveryCode {
		t.Errorf("MFAStatus = %+v, %v; want the methods webauthn and recovery_code", st, err)
	}
	if err := svc.RequireAssurance(ctx, caller, false); !errors.Is(err, user.ErrMFALoginRequired) {
		t.Errorf("RequireAssurance with a factor the session did not use = %v, want ErrMFALoginRequired", err)
	}
	if has, err := svc.HasSecondFactor(ctx, ada.ID); !has || err != nil {
		t.Errorf("HasSecondFactor = %v, %v; want true", has, err)
	}
	if err := svc.AdminResetMFA(ctx, recently(ada), ada.ID); !errors.Is(err, user.ErrForbidden) {
		t.Errorf("AdminResetMFA by a non-administrator = %v, want ErrForbidden", err)
	}
	if err := svc.AdminResetMFA(ctx, recently(f.admin), uuid.Must(uuid.NewV7())); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("AdminResetMFA of nobody = %v, want ErrNotFound", err)
	}
	if err := svc.AdminResetMFA(ctx, recently(f.admin), ada.ID); err != nil || len(kind.reset) != 1 || kind.reset[0] != ada.ID {
		t.Errorf("AdminResetMFA = %v, reset %v; want the kind reset for ada", err, kind.reset)
	}

	kind.err = errDown
	if _, err := svc.MFAStatus(ctx, ada.ID); !errors.Is(err, errDown) {
		t.Errorf("MFAStatus with a failing kind = %v, want its error", err)
	}
	if err := svc.RequireAssurance(ctx, caller, false); !errors.Is(err, errDown) {
		t.Errorf("RequireAssurance with a failing kind = %v, want its error (never a pass)", err)
	}
	if err := svc.AdminResetMFA(ctx, recently(f.admin), ada.ID); !errors.Is(err, errDown) {
		t.Errorf("AdminResetMFA with a failing kind = %v, want its error", err)
	}
	kind.err = nil
	f.mem.SetFail(errDown)
	if _, err := svc.MFAStatus(ctx, ada.ID); !errors.Is(err, errDown) {
		t.Errorf("MFAStatus on a failing store = %v, want its error", err)
	}
	f.mem.SetFail(nil)
}

// An mfa_token the service never issued names nobody, whatever its shape.
func TestChallengeUserRefusesUnknownTokens(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"", "not a token", "kgDy4Jfd12oPwEsXjw5VsGgXKarIWbEfpdkL6fzaDjA"} {
		if id, err := f.svc.ChallengeUser(t.Context(), tok); err == nil || id != uuid.Nil {
			t.Errorf("ChallengeUser(%q) = %v, %v; want an error and no user", tok, id, err)
		}
		if _, err := f.svc.LoginWithOTP(t.Context(), tok, "123456"); err == nil {
			t.Errorf("LoginWithOTP(%q) = nil error, want a refusal", tok)
		}
	}
}

// A login proved by another factor (a passkey) opens a session only for an
// active account: a missing or deactivated one is refused as a wrong
// password would be, and recorded as a failed login.
func TestLoginWithFactorRefusesMissingAndInactiveAccounts(t *testing.T) {
	f := newAdminFixture(t)
	ctx := t.Context()
	a := user.Assurance{AMR: []string{"hwk", "mfa"}}
	ada := f.register(t, ada)
	tok, err := f.svc.LoginWithFactor(ctx, ada.ID, "passkey", a)
	if err != nil || tok.Token == "" || tok.UserID != ada.ID {
		t.Fatalf("LoginWithFactor(active) = %+v, %v; want tokens", tok, err)
	}
	if _, err := f.svc.LoginWithFactor(ctx, uuid.Must(uuid.NewV7()), "passkey", a); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("LoginWithFactor(nobody) = %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.svc.AdminUpdate(ctx, recently(f.admin), ada.ID, user.Patch{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LoginWithFactor(ctx, ada.ID, "passkey", a); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Errorf("LoginWithFactor(inactive) = %v, want ErrInvalidCredentials", err)
	}
	f.mem.SetFail(errDown)
	if _, err := f.svc.LoginWithFactor(ctx, ada.ID, "passkey", a); !errors.Is(err, errDown) {
		t.Errorf("LoginWithFactor on a failing store = %v, want its error", err)
	}
	f.mem.SetFail(nil)
	if got := (&user.MFARequiredError{}).Error(); got != user.ErrMFARequired.Error() {
		t.Errorf("MFARequiredError says %q, want %q", got, user.ErrMFARequired.Error())
	}
	if !user.AuditLoginFailed.Valid() || user.AuditKind("no.such").Valid() {
		t.Error("AuditKind.Valid does not tell the known kinds from others")
	}
}
