package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// setupReplacedText is the start of what the set-up page says to a code
// of an app that scanned a secret a newer set-up replaced.
const setupReplacedText = "This code is from an authenticator app set up earlier"

// TestConfirmingAReplacedSetupOnThePages: set-up started in two tabs, the
// code of the app that scanned the first tab's QR code, typed in that
// tab, said "This code is wrong or was used already", and the user tried
// again with the same app. The page now says that a newer set-up replaced
// that secret, to scan the newest QR code or set up again, and offers to;
// a code of neither secret is still wrong, and the newer secret's code
// turns the app on from either tab.
func TestConfirmingAReplacedSetupOnThePages(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		shown := func() (secret, setup string) {
			t.Helper()
			holding(t, b, setupPage, url.Values{"current_password": {password}}, setupPage)
			p := b.get(setupPage)
			m := shownSecret.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("the set-up page shows no secret\n%s", p.body)
			}
			return strings.ReplaceAll(m[1], " ", ""), hiddenValue(t, p.body, "setup")
		}
		first, firstSetup := shown()
		second, _ := shown() // the other tab

		now := s.Clock.Now()
		p := b.post("/account/mfa/confirm", url.Values{"code": {totpCode(t, first, now)}, "setup": {firstSetup}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, setupReplacedText) || !strings.Contains(p.body, setupForm) || !strings.Contains(p.body, confirmForm) {
			t.Errorf("the replaced secret's code: %d, want 409 saying a newer set-up replaced it, with set-up again and the code's form\n%s", p.status, p.body)
		}
		if got := hiddenValue(t, p.body, "setup"); got != firstSetup {
			t.Errorf("the code's form again holds setup %q, want the tab's %q", got, firstSetup)
		}
		neither := "000000"
		for neither == totpCode(t, first, now) || neither == totpCode(t, second, now) {
			neither = "1" + neither[1:]
		}
		p = b.post("/account/mfa/confirm", url.Values{"code": {neither}, "setup": {firstSetup}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "This code is wrong") || strings.Contains(p.body, setupReplacedText) {
			t.Errorf("a code of neither secret: %d, want 400 saying the code is wrong\n%s", p.status, p.body)
		}
		s.Clock.Advance(30 * time.Second)
		p = b.post("/account/mfa/confirm", url.Values{"code": {totpCode(t, second, s.Clock.Now())}, "setup": {firstSetup}})
		if p.status != http.StatusSeeOther || p.location() != codesPage {
			t.Errorf("the newer secret's code in the first tab: %d to %q, want 303 to %s\n%s", p.status, p.location(), codesPage, p.body)
		}
	})
}
