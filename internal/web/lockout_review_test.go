package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/usersvc/usersvc/internal/user"
)

// TestResetLetsTheOwnerPastTheLockout (found by a review): an attacker
// who kept failing to sign in as someone locked them out of every browser
// that had not signed in before, and resetting the password through the
// mailed link did not help: the new password was refused as locked too.
// Now the browser that resets the password through the link is trusted
// as a signed-in one is, so its owner signs in; the attacker stays locked.
func TestResetLetsTheOwnerPastTheLockout(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind, limitsOn("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "3", "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT", "off"))
		s.account("ada")
		attacker, owner := s.browser(), s.browser()
		for i := range 3 {
			attacker.post("/sign-in", url.Values{"login": {"ada"}, "password": {"a guess " + strconv.Itoa(i)}})
		}
		if p := owner.post("/sign-in", url.Values{"login": {"ada"}, "password": {password}}); p.status != http.StatusTooManyRequests {
			t.Fatalf("the owner's sign-in while locked: %d, want 429", p.status)
		}
		owner.post("/forgot-password", url.Values{"email": {"ada@example.com"}})
		m := s.mail(string(user.MailResetPassword), "ada@example.com")
		const next = "the owner's new passphrase"
		if p := owner.post("/reset-password", url.Values{"token": {m.Token}, "password": {next}}); p.status != http.StatusSeeOther {
			t.Fatalf("reset: %d\n%s", p.status, p.body)
		}
		owner.signIn("ada", next, "/account")
		if p := attacker.post("/sign-in", url.Values{"login": {"ada"}, "password": {"another guess"}}); p.status != http.StatusTooManyRequests {
			t.Errorf("the attacker after the owner's reset: %d, want 429 (still locked)", p.status)
		}
	})
}
