package browsertest_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// secretPage is a client's one-time secret page.
var secretPage = regexp.MustCompile(`^/admin/clients/[A-Z0-9]+/secret$`)

// TestClientSecretShownOnceInTheBrowser: an administrator registers a
// confidential client in Chromium; the form's answer lands on the
// client's secret page (Post/Redirect/Get), which shows the secret. The
// browser's reload gets that page again without the secret and without
// posting the form: still one client, whose secret still works. Rotation
// does the same.
func TestClientSecretShownOnceInTheBrowser(t *testing.T) {
	browser := browsertest.Launch(t)
	site := newSite(t, apptest.SQLite, "USERSVC_JWT_ALG", "EdDSA") // the OpenID provider: the token endpoint's client_credentials
	tab := browser.NewPage(t)
	signIn(t, site, tab, adminLogin, adminPassword, "/account")

	tab.Open(site.URL + "/admin/clients/new")
	tab.Fill("#f-name", "Reporting service", "#f-current_password", adminPassword)
	tab.Click("#f-token_endpoint_auth_method-1") // confidential, client_secret_basic
	tab.Click("#f-grant_types-2")                // client_credentials
	tab.Click("#f-scopes-4")                     // users:read
	secret, at := shownOnce(t, tab, "form[action='/admin/clients'] button[type=submit]")
	id := strings.Split(at, "/")[3]
	if got := apptest.ClientCredentialsStatus(t, site.URL, id, secret); got != http.StatusOK {
		t.Fatalf("the shown secret at the token endpoint: %d, want 200", got)
	}
	if list, err := site.App.Clients().List(t.Context(), oauthclient.Operator()); err != nil || len(list) != 1 {
		t.Errorf("after a reload: %d clients, %v; want the one registered", len(list), err)
	}

	tab.Fill("#f-current_password", adminPassword)
	rotated, again := shownOnce(t, tab, "form[action='/admin/clients/"+id+"/rotate-secret'] button[type=submit]")
	if again != at || rotated == secret {
		t.Errorf("rotation showed %s at %s, want a new secret at %s", rotated, again, at)
	}
	if got := apptest.ClientCredentialsStatus(t, site.URL, id, rotated); got != http.StatusOK {
		t.Errorf("the rotated secret after a reload: %d, want 200 (not rotated again)", got)
	}
}

// shownOnce submits the form of the button sel, which makes a secret:
// the tab lands on a secret page showing it, and the reload shows it no
// more. It returns the secret and the page's path.
func shownOnce(t *testing.T, tab *browsertest.Page, sel string) (secret, at string) {
	t.Helper()
	if status := tab.Submit(sel); status != http.StatusOK {
		t.Fatalf("submit %s: %d, want 200: %s", sel, status, tab.Body())
	}
	at = path(t, tab.Location())
	secret = tab.Eval(`(document.querySelector('#client-secret') || {value: ''}).value`)
	if !secretPage.MatchString(at) || !strings.HasPrefix(secret, "ucs_") {
		t.Fatalf("after %s: at %s showing %q, want a secret page showing the secret: %s", sel, at, secret, tab.Body())
	}
	if status := tab.Reload(); status != http.StatusOK || path(t, tab.Location()) != at {
		t.Fatalf("reload: %d at %s, want 200 at %s", status, tab.Location(), at)
	}
	if body := tab.Body(); tab.Has("#client-secret") || strings.Contains(body, secret) || !strings.Contains(body, "shown once") {
		t.Fatalf("the reloaded secret page shows the secret, or not that it was shown once: %s", body)
	}
	return secret, at
}
