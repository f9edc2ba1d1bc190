package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// The second step of a password login (the mfa_required exchange) against
// what happens to the account while an mfa_token is out: the owner ends
// the account's sessions or changes its factors.

// owned is an account with a TOTP authenticator, as its owner holds it.
type owned struct {
	account
	id     uuid.UUID
	token  string // a session of the password, opened just now
	secret string // the authenticator whose codes a login asks for
}

// TestPendingSecondStepsEndWithTheSessions: whatever ends an account's
// sessions, or changes its second factors, ends the logins of the
// account half done too. Before, an attacker who knew the old password
// logged in, kept the mfa_token through the owner's password change or
// reset (or a log-out everywhere, a deactivation and reactivation, a
// factor reset) and finished the login with a phished code for the
// token's five minutes.
func TestPendingSecondStepsEndWithTheSessions(t *testing.T) {
	for _, tt := range []struct {
		name string
		// meanwhile is what happens while the attacker holds the mfa_token,
		// done by o's owner or by the administrator of admin; it may give
		// the account another authenticator (o.secret).
		meanwhile func(s *server, o *owned, admin string)
		ends      bool
	}{
		{"nothing", func(*server, *owned, string) {}, false},
		{"password change", func(s *server, o *owned, _ string) {
			body := jsonBody(map[string]string{"current_password": o.Password, "new_password": "a brand new passphrase"})
			s.want204(req{method: "PUT", path: "/api/v1/users/me/password", token: o.token, body: body})
		}, true},
		{"password reset", func(s *server, o *owned, _ string) {
			s.requestReset(o.Email, nil)
			if res := s.confirmReset(s.nextMail(usertest.MailReset, o.Email).Token, "a brand new passphrase"); res.Status != http.StatusNoContent {
				s.t.Fatalf("confirm the reset: got %v, want 204", res)
			}
		}, true},
		{"log out everywhere", func(s *server, o *owned, _ string) {
			s.want204(req{method: "POST", path: "/api/v1/logout?scope=all", token: o.token})
		}, true},
		{"deactivation and reactivation", func(s *server, o *owned, admin string) {
			for _, verb := range []string{"deactivate", "reactivate"} {
				if res := s.do(req{method: "POST", path: "/api/v1/admin/users/" + o.id.String() + "/" + verb, token: admin}); res.Status != http.StatusOK {
					s.t.Fatalf("%s: got %v, want 200", verb, res)
				}
			}
		}, true},
		{"email change undone", func(s *server, o *owned, _ string) {
			if res := s.updateMe(o.token, `{"email":"someone.else@example.com"}`); res.Status != http.StatusOK {
				s.t.Fatalf("email change: got %v, want 200", res)
			}
			undo := s.nextMail(usertest.MailEmailChanged, o.Email)
			s.want204(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})})
		}, true},
		{"factors reset by an administrator, then a new authenticator", func(s *server, o *owned, admin string) {
			s.want204(req{method: "DELETE", path: "/api/v1/admin/users/" + o.id.String() + "/mfa", token: admin})
			o.secret, _ = s.enrolTOTP(o.token)
		}, true},
		{"authenticator removed, then a new one", func(s *server, o *owned, _ string) {
			s.want204(req{method: "DELETE", path: "/api/v1/users/me/mfa/totp", token: o.token})
			o.secret, _ = s.enrolTOTP(o.token)
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, kind string) {
				s := newServer(t, kind)
				adm, admID := s.signUp()
				s.setRole(admID, user.RoleAdmin)
				admin := s.token(adm.Username, adm.Password)
				var o owned
				o.account, o.token = s.signedUp()
				o.id = uuid.MustParse(s.do(req{method: "GET", path: "/api/v1/users/me", token: o.token}).object(t)["id"].(string))
				o.secret, _ = s.enrolTOTP(o.token)

				mfaToken := s.mfaToken(o.Username, o.Password) // the attacker's, with the old password
				tt.meanwhile(s, &o, admin)
				s.Clock.Advance(30 * time.Second) // a code of a step not used yet (a phished one)
				res := s.secondStep("mfa-otp", mfaToken, "otp", otpCode(t, o.secret, s.Clock.Now()))
				if !tt.ends {
					if res.Status != http.StatusOK {
						t.Fatalf("second step: got %v, want 200", res)
					}
					return
				}
				if b := wantOAuthError(t, res, http.StatusBadRequest, "invalid_grant", ""); b["code"] != "invalid_mfa_token" {
					t.Errorf("second step of an mfa_token from before: got %v, want invalid_mfa_token", res)
				}
			})
		})
	}
}

// want204 sends r and stops the test unless it answers 204.
func (s *server) want204(r req) {
	s.t.Helper()
	if res := s.do(r); res.Status != http.StatusNoContent {
		s.t.Fatalf("%s %s: got %v, want 204", r.method, r.path, res)
	}
}
