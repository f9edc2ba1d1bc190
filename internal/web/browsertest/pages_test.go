package browsertest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web/browsertest"
)

// MaxPageWeight is issue 21's target for a page as transferred: its HTML,
// stylesheets and scripts (compressed when the server compresses).
const MaxPageWeight = 50 * 1024

// A page of the catalogue, as some person sees it.
type shownPage struct {
	name    string // the screenshots' file name: docs/pages/<name>-desktop.png
	pattern string // the GET route it shows ("" for a state of another page)
	who     string // "", "user" or "admin"
	// path has {id} for the user the console looks at, {authorize} for a
	// third-party client's authorization request (path and query).
	path string
	// fits says the page's table fits a desktop window: it does not
	// scroll sideways there, long addresses and URIs included.
	fits bool
	// prepare brings the page to the state shown (a refused form), after
	// it is opened.
	prepare func(t *testing.T, p *browsertest.Page, site *browsertest.Site)
}

// catalogue is every page of the service, with states worth seeing; a GET
// route of internal/web without an entry fails TestEveryPage.
var catalogue = []shownPage{
	{name: "sign-in", pattern: "/sign-in", path: "/sign-in"},
	{name: "sign-in-error", who: "", path: "/sign-in", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-login", "ada", "#f-password", "not the password")
		p.Submit("form[action='/sign-in'] button[type=submit]")
	}},
	// The second step of the sign-in of an account with an authenticator
	// app (a POST's answer, no route of its own), and a wrong code.
	{name: "sign-in-mfa", path: "/sign-in", prepare: secondStep},
	{name: "sign-in-mfa-error", path: "/sign-in", prepare: func(t *testing.T, p *browsertest.Page, site *browsertest.Site) {
		secondStep(t, p, site)
		p.Fill("#f-code", "aaaa-bbbb-cccc")
		p.Submit("form[action='/sign-in/mfa'] button[type=submit]")
	}},
	{name: "sign-up", pattern: "/sign-up", path: "/sign-up"},
	{name: "sign-up-error", path: "/sign-up", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-email", "not an address@", "#f-username", "a", "#f-password", "short")
		p.Eval(`(() => { document.querySelector('form[action="/sign-up"]').noValidate = true; return ''; })()`)
		p.Submit("form[action='/sign-up'] button[type=submit]")
	}},
	{name: "forgot-password", pattern: "/forgot-password", path: "/forgot-password"},
	{name: "forgot-password-sent", path: "/forgot-password", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-email", longEmail)
		p.Submit("form[action='/forgot-password'] button[type=submit]")
	}},
	{name: "reset-password", pattern: "/reset-password", path: "/reset-password?token=from-the-mail"},
	{name: "verify-email", pattern: "/verify-email", path: "/verify-email?token=from-the-mail"},
	{name: "undo-email-change", pattern: "/undo-email-change", path: "/undo-email-change?token=from-the-mail"},
	{name: "account", pattern: "/account", who: "user", path: "/account"},
	// Long content: an account whose address, username and name are as
	// long as people's get, with many sessions from long-winded browsers.
	{name: "account-long", who: "long", path: "/account", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-full_name", longName)
		p.Submit("form[action='/account/profile'] button[type=submit]") // the notice: saved
	}},
	{name: "account-sessions-many", who: "long", path: "/account/sessions"},
	{name: "account-passkeys-listed", who: "long", path: "/account/passkeys", prepare: addPasskeys},
	// A wrong password on the second passkey's Remove form: said on that
	// form's field, the first passkey's forms as they were.
	{name: "account-passkeys-error", who: "long", path: "/account/passkeys", prepare: wrongPasswordOnRemove},
	{name: "account-password", pattern: "/account/password", who: "user", path: "/account/password"},
	{name: "account-password-changed", who: "user", path: "/account/password?notice=password_changed"},
	{name: "account-sessions", pattern: "/account/sessions", who: "user", path: "/account/sessions"},
	{name: "account-delete", pattern: "/account/delete", who: "user", path: "/account/delete"},
	{name: "account-passkeys", pattern: "/account/passkeys", who: "user", path: "/account/passkeys"},
	{name: "account-mfa", pattern: "/account/mfa", who: "user", path: "/account/mfa"},
	{name: "account-mfa-error", who: "user", path: "/account/mfa", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#setup-password", "not the password")
		p.Submit("form[action='/account/mfa/setup'] button[type=submit]")
	}},
	// The form's POST redirects to the set-up page, which shows the secret once.
	{name: "account-mfa-setup", pattern: "/account/mfa/setup", who: "user", path: "/account/mfa", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#setup-password", password)
		p.Submit("form[action='/account/mfa/setup'] button[type=submit]")
	}},
	{name: "account-mfa-setup-shown", who: "user", path: "/account/mfa/setup"}, // reloaded: shown once, code or start again
	// The app's first code turns it on; its POST redirects to the page
	// that shows the recovery codes once (grace's tab: ada's app stays off).
	{name: "account-mfa-recovery-codes", pattern: "/account/mfa/recovery-codes", who: "mfa", path: "/account/mfa", prepare: turnOnApp},
	{name: "account-mfa-recovery-codes-shown", who: "mfa", path: "/account/mfa/recovery-codes"}, // reloaded: shown once, or make new ones
	{name: "account-apps", pattern: "/account/apps", who: "user", path: "/account/apps"},
	{name: "forbidden", who: "user", path: "/admin/users"},
	{name: "admin-users", pattern: "/admin/users", who: "admin", path: "/admin/users", fits: true},
	{name: "admin", pattern: "/admin", who: "admin", path: "/admin"}, // goes on to admin-users
	{name: "admin-users-search", who: "admin", path: "/admin/users?search=" + longUsername, fits: true},
	{name: "admin-user", pattern: "/admin/users/{id}", who: "admin", path: "/admin/users/{id}"},
	{name: "admin-user-long", who: "admin", path: "/admin/users/{long}"},
	{name: "admin-deactivate", pattern: "/admin/users/{id}/deactivate", who: "admin", path: "/admin/users/{id}/deactivate"},
	{name: "admin-delete", pattern: "/admin/users/{id}/delete", who: "admin", path: "/admin/users/{id}/delete"},
	{name: "admin-audit", pattern: "/admin/audit", who: "admin", path: "/admin/audit"},
	{name: "admin-clients", pattern: "/admin/clients", who: "admin", path: "/admin/clients", fits: true},
	{name: "admin-client-new", pattern: "/admin/clients/new", who: "admin", path: "/admin/clients/new"},
	{name: "admin-client-new-error", who: "admin", path: "/admin/clients/new", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-name", "Partner app", "#f-redirect_uris", "https://partner.example.com/cb\nhttp://partner.example.com/oauth2/callback/for-the-reporting-dashboard-of-the-eu-west-region",
			"#f-current_password", adminPassword)
		p.Click("#f-scopes-5") // users:write, which a code-flow client may not have
		p.Submit("form[action='/admin/clients'] button[type=submit]")
	}},
	// The form's POST redirects to the secret page, which shows the secret once.
	{name: "admin-client-secret", pattern: "/admin/clients/{id}/secret", who: "admin", path: "/admin/clients/new", prepare: func(_ *testing.T, p *browsertest.Page, _ *browsertest.Site) {
		p.Fill("#f-name", "Reporting service", "#f-current_password", adminPassword)
		p.Click("#f-token_endpoint_auth_method-1") // confidential, client_secret_basic
		p.Click("#f-grant_types-2")                // client_credentials
		p.Click("#f-scopes-4")                     // users:read
		p.Submit("form[action='/admin/clients'] button[type=submit]")
	}},
	{name: "admin-client-secret-shown", who: "admin", path: "/admin/clients/{client}/secret"}, // reloaded: shown once
	{name: "admin-client", pattern: "/admin/clients/{id}", who: "admin", path: "/admin/clients/{client}"},
	{name: "admin-client-delete", pattern: "/admin/clients/{id}/delete", who: "admin", path: "/admin/clients/{client}/delete"},
	// The OpenID provider's pages (internal/oidcop's routes, rendered by
	// internal/web): a third-party client's authorization request, a
	// request that cannot go back to its client, and one that must not
	// (an unregistered client, a redirect URI the link's maker chose).
	{name: "consent", who: "user", path: "{authorize}"},
	{name: "oidc-expired", path: "/oauth/login?id=no-such-request"},
	{name: "oidc-invalid", path: "/oauth/authorize?client_id=no-such-client&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid"},
}

// getRoute finds the GET routes of internal/web's route list.
var getRoute = regexp.MustCompile(`\{"GET (/[^"]*)"`)

// pageRoutes are the GET patterns internal/web serves (its routes()).
func pageRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../*.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f) //nolint:gosec // the package's own sources
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range getRoute.FindAllSubmatch(b, -1) {
			routes = append(routes, string(m[1]))
		}
	}
	if len(routes) == 0 {
		t.Fatal("found no GET route in internal/web")
	}
	return routes
}

// TestEveryPage opens every page of the catalogue at desktop and phone
// width and checks that axe-core finds no serious or critical violation
// (contrast of the default theme included), that nothing is wider than a
// 360 px phone, that the layout check (layout_test.go: headings, target
// sizes, focus, scrolling boxes, field widths) finds nothing, that the
// tables marked fits fit a desktop window, and that the page weighs under
// MaxPageWeight. With
// USERSVC_SCREENSHOTS set (make screenshots) it writes each page's
// screenshots there.
func TestEveryPage(t *testing.T) {
	covered := map[string]bool{}
	for _, pg := range catalogue {
		covered[pg.pattern] = true
	}
	for _, r := range pageRoutes(t) {
		if !covered[r] {
			t.Errorf("the page GET %s is not in the catalogue of TestEveryPage: add it (scan, weight, screenshots)", r)
		}
	}

	browser := browsertest.Launch(t)
	axe := browsertest.Axe(t)
	shots := os.Getenv("USERSVC_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	site := newSite(t, apptest.SQLite, "USERSVC_JWT_ALG", "EdDSA") // asymmetric keys: the OpenID provider is on
	register(t, site, "ada@example.com", "ada")
	register(t, site, "grace@example.com", "grace")
	register(t, site, longEmail, longUsername)
	register(t, site, "hopper@example.com", mfaLogin)
	enrolApp(t, site, mfaLogin)
	ada := userID(t, site, "ada")
	manySessions(t, site, longUsername, 12)
	client := registerClient(t, site)
	rp := newRelyingParty(t, site, false)
	paths := strings.NewReplacer("{id}", ada.String(), "{long}", userID(t, site, longUsername).String(), "{client}", client,
		"{authorize}", strings.TrimPrefix(rp.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), site.URL))
	tabs := map[string]*browsertest.Page{"": browser.NewPage(t), "user": browser.NewPage(t), "mfa": browser.NewPage(t), "admin": browser.NewPage(t), "long": browser.NewPage(t)}
	signIn(t, site, tabs["user"], "ada", password, "/account")
	signIn(t, site, tabs["mfa"], "grace", password, "/account")
	signIn(t, site, tabs["admin"], adminLogin, adminPassword, "/account")
	signIn(t, site, tabs["long"], longUsername, password, "/account")

	var weights []string
	for _, pg := range catalogue {
		t.Run(pg.name, func(t *testing.T) {
			page := tabs[pg.who].In(t)
			page.SetWidth(browsertest.DesktopWidth)
			page.Open(site.URL + paths.Replace(pg.path))
			if pg.prepare != nil {
				pg.prepare(t, page, site)
			}
			page.CheckAccessibility(axe, pg.name)
			checkLayout(t, page, pg.name, true)
			if pg.fits {
				if got := page.Eval(`[...document.querySelectorAll('.scroll')].filter(e => e.scrollWidth > e.clientWidth).length + ''`); got != "0" {
					t.Errorf("%s: the table scrolls sideways in a %d px window, want it to fit", pg.name, browsertest.DesktopWidth)
				}
			}
			w := weight(t, page)
			weights = append(weights, fmt.Sprintf("%s: %d bytes", pg.name, w))
			if w >= MaxPageWeight {
				t.Errorf("%s weighs %d bytes transferred, want under %d", pg.name, w, MaxPageWeight)
			}
			save(t, shots, pg.name+"-desktop.png", page.Screenshot(browsertest.DesktopWidth))

			page.SetWidth(browsertest.PhoneWidth)
			page.CheckAccessibility(axe, pg.name)
			checkLayout(t, page, pg.name, false)
			if got := page.Eval(`String(document.documentElement.scrollWidth)`); got != fmt.Sprint(browsertest.PhoneWidth) {
				t.Errorf("%s is %s px wide on a %d px phone: it scrolls sideways", pg.name, got, browsertest.PhoneWidth)
			}
			save(t, shots, pg.name+"-phone.png", page.Screenshot(browsertest.PhoneWidth))
		})
	}
	sort.Strings(weights)
	t.Logf("transferred weight (HTML + CSS + JS):\n\t%s", strings.Join(weights, "\n\t"))
}

// turnOnApp sets up an authenticator app from the factors' page open in
// p and turns it on with its first code: p lands on the recovery codes.
func turnOnApp(t *testing.T, p *browsertest.Page, site *browsertest.Site) {
	t.Helper()
	p.Fill("#setup-password", password)
	p.Submit("form[action='/account/mfa/setup'] button[type=submit]")
	p.Fill("#f-code", appCode(t, site, strings.ReplaceAll(p.Text("code.secret"), " ", "")))
	if status := p.Submit("form[action='/account/mfa/confirm'] button[type=submit]"); status != http.StatusOK || !p.Has("ul.codes") {
		t.Fatalf("turning the app on: %d at %s, want the recovery codes: %s", status, p.Location(), p.Body())
	}
}

// mfaLogin is the account of TestEveryPage with an authenticator app from
// the start, whose sign-in asks for its code.
const mfaLogin = "hopper"

// enrolApp turns an authenticator app on for login through the service.
func enrolApp(t *testing.T, site *browsertest.Site, login string) {
	t.Helper()
	ctx, svc := t.Context(), site.App.Service()
	tok, err := svc.Login(ctx, login, password, "")
	if err != nil {
		t.Fatalf("login as %s: %v", login, err)
	}
	u, sess, err := svc.Authenticate(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	c := user.Caller{User: u, Session: sess}
	key, err := svc.EnrolTOTP(ctx, c)
	if err != nil {
		t.Fatalf("enrol an app for %s: %v", login, err)
	}
	if _, err := svc.ConfirmTOTP(ctx, c, appCode(t, site, key.Secret)); err != nil {
		t.Fatalf("turn the app on for %s: %v", login, err)
	}
}

// secondStep signs mfaLogin in with the password from the sign-in page
// open in p: p lands on the form asking for the app's code.
func secondStep(t *testing.T, p *browsertest.Page, _ *browsertest.Site) {
	t.Helper()
	p.Fill("#f-login", mfaLogin, "#f-password", password)
	if status := p.Submit("form[action='/sign-in'] button[type=submit]"); status != http.StatusOK || !p.Has("form[action='/sign-in/mfa']") {
		t.Fatalf("sign in as %s: %d at %s, want the code form: %s", mfaLogin, status, p.Location(), p.Body())
	}
}

// save writes a screenshot into dir ("" keeps none, after checking it is
// a PNG).
func save(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("%s: not a PNG", name)
	}
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o600); err != nil {
		t.Fatal(err)
	}
}

// weight is what a browser receives for the page open in p: its document
// as transferred (the browser's own count of the body) plus each
// stylesheet and script it links, fetched as a browser asks for them.
func weight(t *testing.T, p *browsertest.Page) int {
	t.Helper()
	var doc int
	if _, err := fmt.Sscan(p.Eval(`String(performance.getEntriesByType('navigation')[0].encodedBodySize)`), &doc); err != nil {
		t.Fatalf("the document's size: %v", err)
	}
	assets := p.Eval(`[...document.querySelectorAll('link[rel=stylesheet], script[src]')].map(e => e.href || e.src).join('\n')`)
	total := doc
	for _, u := range strings.Fields(assets) {
		total += transferred(t, u)
	}
	return total
}

// transferred is the size of u's body on the wire when asked for as a
// browser asks (compressed if the server compresses).
func transferred(t *testing.T, u string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return int(n)
}

// registerClient registers a confidential first-party client with a
// redirect URI, for the console's client pages, and returns its id.
func registerClient(t *testing.T, site *browsertest.Site) string {
	t.Helper()
	c, _, err := site.App.Clients().Create(t.Context(), oauthclient.Operator(), oauthclient.NewClient{
		Name: "Team dashboard", Confidential: true, FirstParty: true,
		RedirectURIs: []string{"https://dashboard.example.com/oauth/callback"},
	})
	if err != nil {
		t.Fatalf("register a client: %v", err)
	}
	return c.ID
}

// userID is the id of the account login.
func userID(t *testing.T, site *browsertest.Site, login string) uuid.UUID {
	t.Helper()
	u, err := site.Stores.Users.ByUsername(t.Context(), login)
	if err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	return u.ID
}
