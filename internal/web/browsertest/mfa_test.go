package browsertest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// TestAuthenticatorAppAndRecoveryCodesShownOnceInTheBrowser: a user sets
// up an authenticator app in Chromium. Each form's answer lands on a page
// that shows the secret or the codes (Post/Redirect/Get); the browser's
// reload gets that page again showing them no more and posting nothing:
// the app's secret scanned before the reload still turns it on, and the
// recovery codes written down before a reload still sign in.
func TestAuthenticatorAppAndRecoveryCodesShownOnceInTheBrowser(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite)
	register(t, site, "ada@example.com", "ada")
	tab := browser.NewPage(t)
	signIn(t, site, tab, "ada", password, "/account")

	tab.Open(site.URL + "/account/mfa")
	tab.Fill("#setup-password", password)
	secret := strings.ReplaceAll(landsShowing(t, tab, "form[action='/account/mfa/setup'] button[type=submit]", "/account/mfa/setup", "code.secret"), " ", "")
	reloadShowsNone(t, tab, "/account/mfa/setup", "code.secret", secret)

	tab.Fill("#f-code", appCode(t, site, secret))
	first := landsShowing(t, tab, "form[action='/account/mfa/confirm'] button[type=submit]", "/account/mfa/recovery-codes", "ul.codes")
	reloadShowsNone(t, tab, "/account/mfa/recovery-codes", "ul.codes", first)

	tab.Fill("#codes-password", password)
	codes := landsShowing(t, tab, "form[action='/account/mfa/recovery-codes'] button[type=submit]", "/account/mfa/recovery-codes", "ul.codes")
	reloadShowsNone(t, tab, "/account/mfa/recovery-codes", "ul.codes", codes)
	if codes == first {
		t.Error("new recovery codes are the old ones")
	}

	// The codes shown before the reload still sign in.
	other := browser.NewPage(t)
	other.Open(site.URL + "/sign-in")
	other.Fill("#f-login", "ada", "#f-password", password)
	other.Submit("form[action='/sign-in'] button[type=submit]")
	other.Fill("#f-code", strings.Fields(codes)[0])
	if status := other.Submit("form[action='/sign-in/mfa'] button[type=submit]"); status != http.StatusOK || path(t, other.Location()) != "/account" {
		t.Errorf("sign-in with a recovery code shown before the reload: %d at %s, want 200 at /account: %s", status, other.Location(), other.Body())
	}
}

// landsShowing submits the form of the button sel, which makes a secret:
// the tab lands on at, showing it in the element shown. It returns the
// element's text.
func landsShowing(t *testing.T, tab *browsertest.Page, sel, at, shown string) string {
	t.Helper()
	if status := tab.Submit(sel); status != http.StatusOK || path(t, tab.Location()) != at || !tab.Has(shown) {
		t.Fatalf("submit %s: %d at %s, want 200 at %s showing %s: %s", sel, status, tab.Location(), at, shown, tab.Body())
	}
	return tab.Text(shown)
}

// reloadShowsNone reloads the tab at at: the page shows no element
// shown, not the text secret, and says it was shown once.
func reloadShowsNone(t *testing.T, tab *browsertest.Page, at, shown, secret string) {
	t.Helper()
	if status := tab.Reload(); status != http.StatusOK || path(t, tab.Location()) != at {
		t.Fatalf("reload: %d at %s, want 200 at %s", status, tab.Location(), at)
	}
	if body := tab.Body(); tab.Has(shown) || strings.Contains(body, secret) || !strings.Contains(body, "shown once") {
		t.Fatalf("the reloaded page at %s shows %s, or not that it was shown once: %s", at, shown, body)
	}
}

// appCode is the code an authenticator app with secret shows at the
// site's time.
func appCode(t *testing.T, site *browsertest.Site, secret string) string {
	t.Helper()
	code, err := pqtotp.GenerateCodeCustom(secret, site.Clock.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}
