package user_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// challengedKind is a factor proved by answering a challenge (passkeys,
// in the service): the right answer is "signed:" followed by the handle.
type challengedKind struct {
	factorKind
	challengeErr error
}

func (k *challengedKind) Challenge(_ context.Context, id uuid.UUID) (user.FactorChallenge, error) {
	if k.challengeErr != nil {
		return user.FactorChallenge{}, k.challengeErr
	}
	return user.FactorChallenge{Handle: "h-" + id.String(), Options: []byte(`{"challenge":"x"}`)}, nil
}

func (k *challengedKind) Prove(_ context.Context, id uuid.UUID, handle string, response []byte) (string, error) {
	if handle != "h-"+id.String() || string(response) != "signed:"+handle {
		return "", user.ErrInvalidCode
	}
	return user.AMRHardwareKey, nil
}

// withChallengedFactor is a service on f's store whose accounts may have
// a challengedKind factor, and ada, registered with one.
func withChallengedFactor(t *testing.T, f fixture) (*user.Service, *challengedKind, user.User) {
	t.Helper()
	kind := &challengedKind{factorKind: factorKind{enrolled: map[uuid.UUID]bool{}}}
	deps := f.deps()
	deps.MFA = user.MFA{More: []user.SecondFactor{kind}}
	svc := user.NewService(deps, user.Policy{})
	u := f.register(t, ada)
	kind.enrolled[u.ID] = true
	return svc, kind, u
}

// A factor proved by a challenge finishes a password login: the
// mfa_required answer lists its method, the challenge is given only for
// a live mfa_token and a method the account has, a wrong answer is a
// wrong code, and the right one opens a session with amr pwd, hwk, mfa.
func TestLoginWithChallengedFactor(t *testing.T) {
	ctx := t.Context()
	svc, kind, ada := withChallengedFactor(t, newFixture(t))

	_, err := svc.Login(ctx, "ada", "correct horse", "")
	var req *user.MFARequiredError
	if !errors.As(err, &req) || !slices.Equal(req.Methods, []string{"webauthn", user.MethodRecoveryCode}) {
		t.Fatalf("Login = %v, want mfa_required with webauthn and recovery_code", err)
	}
	if _, err := svc.ChallengeSecondFactor(ctx, "not a token", "webauthn"); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("ChallengeSecondFactor(unknown token) = %v, want ErrInvalidMFAToken", err)
	}
	if _, err := svc.ChallengeSecondFactor(ctx, req.Token, "carrier-pigeon"); !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("ChallengeSecondFactor(unknown method) = %v, want ErrFactorNotFound", err)
	}
	c, err := svc.ChallengeSecondFactor(ctx, req.Token, "webauthn")
	if err != nil || c.Handle != "h-"+ada.ID.String() || len(c.Options) == 0 {
		t.Fatalf("ChallengeSecondFactor = %+v, %v; want the account's challenge", c, err)
	}
	if _, err := svc.LoginWithChallenge(ctx, req.Token, "carrier-pigeon", c.Handle, []byte("x")); !errors.Is(err, user.ErrInvalidCode) {
		t.Errorf("LoginWithChallenge(unknown method) = %v, want ErrInvalidCode", err)
	}
	if _, err := svc.LoginWithChallenge(ctx, req.Token, "webauthn", c.Handle, []byte("forged")); !errors.Is(err, user.ErrInvalidCode) {
		t.Errorf("LoginWithChallenge(wrong answer) = %v, want ErrInvalidCode", err)
	}
	tok, err := svc.LoginWithChallenge(ctx, req.Token, "webauthn", c.Handle, []byte("signed:"+c.Handle))
	if err != nil {
		t.Fatalf("LoginWithChallenge(right answer) = %v", err)
	}
	_, sess, err := svc.Authenticate(ctx, tok.Token)
	if err != nil || !slices.Equal(sess.AMR, []string{user.AMRPassword, user.AMRHardwareKey, user.AMRMFA}) || sess.ACR != user.ACRMultiFactor {
		t.Errorf("session amr %v acr %q (%v), want pwd hwk mfa, two factors", sess.AMR, sess.ACR, err)
	}
	if _, err := svc.LoginWithChallenge(ctx, req.Token, "webauthn", c.Handle, []byte("signed:"+c.Handle)); !errors.Is(err, user.ErrInvalidMFAToken) {
		t.Errorf("LoginWithChallenge played again = %v, want ErrInvalidMFAToken", err)
	}

	// An account without the factor gets no challenge, and a failing
	// kind fails the request.
	_, err = svc.Login(ctx, "ada", "correct horse", "")
	if !errors.As(err, &req) {
		t.Fatal(err)
	}
	kind.enrolled[ada.ID] = false
	if _, err := svc.ChallengeSecondFactor(ctx, req.Token, "webauthn"); !errors.Is(err, user.ErrFactorNotFound) {
		t.Errorf("ChallengeSecondFactor without the factor = %v, want ErrFactorNotFound", err)
	}
	kind.err = errDown
	if _, err := svc.ChallengeSecondFactor(ctx, req.Token, "webauthn"); !errors.Is(err, errDown) {
		t.Errorf("ChallengeSecondFactor with a failing kind = %v, want its error", err)
	}
}

// A login waiting for its second step ends when the account's other
// sessions are signed out (a page's "sign out other sessions") and when
// a factor of another package is removed (one of two passkeys), as it
// does with a new password: the ways in that have no HTTP route of their
// own (httpapi.TestPendingSecondStepsEndWithTheSessions has the others).
func TestPendingSecondStepEndsWithOtherSessionsAndFactors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		meanwhile func(ctx context.Context, svc *user.Service, c user.Caller) error
	}{
		{"other sessions signed out", func(ctx context.Context, svc *user.Service, c user.Caller) error {
			return svc.LogoutOthers(ctx, c)
		}},
		{"a passkey removed", func(ctx context.Context, svc *user.Service, c user.Caller) error {
			return svc.SecondFactorRemoved(ctx, c, "webauthn", func(user.Stores) error { return nil })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			svc, _, ada := withChallengedFactor(t, newFixture(t))
			_, err := svc.Login(ctx, "ada", "correct horse", "")
			var req *user.MFARequiredError
			if !errors.As(err, &req) {
				t.Fatalf("Login = %v, want mfa_required", err)
			}
			if err := tt.meanwhile(ctx, svc, recently(ada)); err != nil {
				t.Fatal(err)
			}
			handle := "h-" + ada.ID.String()
			if _, err := svc.LoginWithChallenge(ctx, req.Token, "webauthn", handle, []byte("signed:"+handle)); !errors.Is(err, user.ErrInvalidMFAToken) {
				t.Errorf("second step of an mfa_token from before = %v, want ErrInvalidMFAToken", err)
			}
		})
	}
}
