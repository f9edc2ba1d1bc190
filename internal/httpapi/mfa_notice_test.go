package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Someone who has the password but not the second factor gets as far as
// the second step and guesses codes. The owner is told at the first wrong
// code of each such login, once per login however many follow, so that
// they learn their password is known and change it (as a recovery code's
// use is told). Nothing told them: the guesses were audited and counted
// towards the lockout, which only an administrator would notice.
func TestWrongSecondStepTellsTheOwner(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, _, secret := s.withTOTP()
		right := otpCode(t, secret, s.Clock.Now())
		var wrong []string
		for _, c := range []string{"000001", "000002", "000003"} {
			if c != right {
				wrong = append(wrong, c)
			}
		}

		kindOf := string(user.MailSecondStepFailed)
		mfaToken := s.mfaToken(a.Username, a.Password)
		for i, code := range wrong[:2] {
			if res := s.secondStep("mfa-otp", mfaToken, "otp", code); res.Status != http.StatusBadRequest {
				t.Fatalf("wrong code %d: got %v, want 400", i+1, res)
			}
		}
		if m := s.nextMail(kindOf, a.Email); m.Token != "" || m.UserID == uuid.Nil {
			t.Errorf("notice: token %q, user %s; want none, the account's", m.Token, m.UserID)
		}

		// Another login, one wrong code (after the lockout's cool-down):
		// told again.
		s.Clock.Advance(5 * time.Minute)
		if res := s.secondStep("mfa-otp", s.mfaToken(a.Username, a.Password), "otp", wrong[0]); res.Status != http.StatusBadRequest {
			t.Fatalf("wrong code of the second login: got %v, want 400", res)
		}
		s.nextMail(kindOf, a.Email)
		// The mail of the next login's wrong code comes after the earlier
		// ones (one queue, in order): by then three notices, not four.
		s.Clock.Advance(5 * time.Minute)
		if res := s.secondStep("mfa-otp", s.mfaToken(a.Username, a.Password), "otp", wrong[1]); res.Status != http.StatusBadRequest {
			t.Fatalf("wrong code of the third login: got %v, want 400", res)
		}
		s.nextMail(kindOf, a.Email)
		n := 0
		for _, m := range s.Mail.All() {
			if m.Kind == kindOf {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d notices for three logins with wrong codes (two in the first), want 3", n)
		}
	})
}
