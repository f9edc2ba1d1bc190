package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

// The findings of the review of the sign-up, sign-in and recovery flows,
// each reproduced over HTTP on every store as an attacker ran it.

// TestDeactivationUsesUpResetLinks: a reset link mailed before an
// administrator deactivated an account (say, because it was being taken
// over) reset its password once the account was reactivated. Now
// deactivating uses up every pending reset link: refused while the
// account is inactive and after it is reactivated, whose owner keeps the
// password.
func TestDeactivationUsesUpResetLinks(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newAdminServer(t, kind)
		a, id := s.signUp()
		s.drainMail()
		s.requestReset(a.Email, nil)
		link := s.nextMail(usertest.MailReset, a.Email)
		admin := func(action string) {
			t.Helper()
			path := "/api/v1/admin/users/" + id.String() + "/" + action
			if res := s.do(req{method: "POST", path: path, token: s.adminToken}); res.Status != http.StatusOK {
				t.Fatalf("%s: %v, want 200", action, res)
			}
		}
		admin("deactivate")
		wantProblem(t, s.confirmReset(link.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		admin("reactivate")
		wantProblem(t, s.confirmReset(link.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		wantProblem(t, s.loginAs(a.Username, "the attacker's password"), http.StatusUnauthorized, "")
		s.token(a.Username, a.Password)
	})
}

// undo posts an email change's undo token.
func (s *server) undo(token string) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": token})})
}

// TestLaterUndoLinkCannotKillTheOwnersUndo: a thief of a fresh session
// moved the email to an address of theirs, then on to another, and used
// the undo link the second change mailed to their first address: the
// account came back to that address, verified, and every other undo link,
// the owner's too, was used up, so the owner could no longer get the
// account back. Now an undo uses up only the links of changes made after
// its own: the owner's link still restores the owner's address, and ends
// the thief's sessions.
func TestLaterUndoLinkCannotKillTheOwnersUndo(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		owner, fresh := s.verifiedOwner()
		const first, second = "thief@evil.example", "thief2@evil.example"
		for _, to := range []string{first, second} {
			if res := s.updateMe(fresh, `{"email":"`+to+`"}`); res.Status != http.StatusOK {
				t.Fatalf("email change to %s: %v", to, res)
			}
			s.Clock.Advance(time.Second)
		}
		ownersUndo := s.nextMail(usertest.MailEmailChanged, owner.Email)
		thiefsUndo := s.nextMail(usertest.MailEmailChanged, first)
		if res := s.undo(thiefsUndo.Token); res.Status != http.StatusNoContent {
			t.Fatalf("the thief's undo: %v, want 204", res)
		}
		if res := s.undo(ownersUndo.Token); res.Status != http.StatusNoContent {
			t.Fatalf("the owner's undo after the thief's: %v, want 204", res)
		}
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: s.token(owner.Username, owner.Password)}).object(t)
		if me["email"] != owner.Email || me["email_verified"] != true {
			t.Errorf("after the owner's undo: %v, want the owner's verified address back", me)
		}
		wantProblem(t, s.undo(thiefsUndo.Token), http.StatusBadRequest, invalidToken)
	})
}

// TestLockoutTellsNoAccountByItsSpelling: once an address was locked, the
// same address with a space around it (or a look-alike letter) was still
// locked when nobody had it, and let through (401) when an account had it:
// the lockout counted an unknown login by its trimmed, lower-cased
// spelling and a known one by its account, but the lookup did not trim.
// An attacker locked an address and tried it with a space to learn whether
// it had an account. Now every spelling answers the same either way.
func TestLockoutTellsNoAccountByItsSpelling(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_LOGIN_LOCKOUT_WINDOW", "2m",
			"USERSVC_LOGIN_LOCKOUT_COOLDOWN", "2m", "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "off"))
		known := newAccount()
		known.Email = "kate." + known.Email
		s.register(known)
		unknown := "kate." + newAccount().Email
		spellings := []func(string) string{
			func(l string) string { return l },
			strings.ToUpper,
			func(l string) string { return " " + l },
			func(l string) string { return l + " " },
			func(l string) string { return "\t" + l },
			func(l string) string { return strings.ReplaceAll(l, "e", "\u0435") }, // Cyrillic e
			func(l string) string { return strings.Replace(l, "k", "\u212A", 1) }, // Kelvin sign
		}
		answers := func(login string) []int {
			var got []int
			for _, spell := range spellings {
				got = append(got, s.loginFrom(from("198.51.100.7:4000"), spell(login), "wrong password").Status)
			}
			return got
		}
		for _, login := range []string{known.Email, unknown} {
			for i := range 3 {
				s.loginFrom(from("203.0.113.9:4000"), login, "wrong password "+strconv.Itoa(i))
			}
		}
		if k, u := answers(known.Email), answers(unknown); !slices.Equal(k, u) {
			t.Errorf("answers to spellings of a locked address: %v with an account, %v without; want the same", k, u)
		}
	})
}

// TestResetDuringTheUndoWindowGoesToTheOldAddress: a thief of a fresh
// session (no password) moved the email to an address of theirs, verified
// it, and had a reset link mailed there: they set a password of their own,
// and the owner's undo, which restores the address and ends the sessions,
// left them that password to sign in again with. Now, while an email
// change can be undone, a reset link goes to the address it moved away
// from, as before the change.
func TestResetDuringTheUndoWindowGoesToTheOldAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		owner, stolen := s.verifiedOwner()
		const thief = "thief@evil.example"
		if res := s.updateMe(stolen, `{"email":"`+thief+`"}`); res.Status != http.StatusOK {
			t.Fatalf("email change: %v", res)
		}
		undo := s.nextMail(usertest.MailEmailChanged, owner.Email)
		if res := s.verify(s.nextMail(usertest.MailVerify, thief).Token); res.Status != http.StatusOK {
			t.Fatalf("the thief verifies their address: %v", res)
		}
		s.requestReset(thief, nil)
		reset := s.nextMail(usertest.MailReset, owner.Email)
		for _, m := range s.drainMail() {
			if m.Kind == usertest.MailReset {
				t.Errorf("a second reset mail, to %s", m.To)
			}
		}
		if res := s.undo(undo.Token); res.Status != http.StatusNoContent {
			t.Fatalf("the owner's undo: %v, want 204", res)
		}
		wantProblem(t, s.confirmReset(reset.Token, "the thief's password"), http.StatusBadRequest, invalidToken)
		s.token(owner.Username, owner.Password)
	})
}
