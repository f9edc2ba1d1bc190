package web_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

// The console's OAuth clients (issue 23): an administrator registers,
// rotates and deletes clients behind their current password; the secret
// is shown once and works at the token endpoint; the rules and the field
// errors are the registry's; nobody else changes anything.

// clientSite is adminSite served over HTTP at the returned base URL, with
// the OpenID provider on (an asymmetric signing key), so that
// /api/v1/token serves the client_credentials grant.
func clientSite(t *testing.T, kind string) (*site, *browser, user.User, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	s := newSite(t, kind, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", base))
	ts.Config.Handler = s.Handler
	ts.Start()
	t.Cleanup(ts.Close)
	root, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: password}, "Root Admin")
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("root", password, "/account")
	return s, b, root, base
}

// serviceAccount is the form of a confidential service account that may
// read users, with the current password pw.
func serviceAccount(pw string) url.Values {
	return url.Values{
		"name": {"Reporting"}, "token_endpoint_auth_method": {oauthclient.AuthSecretBasic},
		"grant_types": {oauthclient.GrantClientCredentials}, "scopes": {oauthclient.ScopeUsersRead},
		"current_password": {pw},
	}
}

var (
	clientSecretInput = regexp.MustCompile(`<textarea id="client-secret"[^>]*>(ucs_[A-Za-z0-9_-]+)</textarea>`)
	shownID           = regexp.MustCompile(`<dt>Client id</dt><dd><code>([A-Z0-9]+)</code>`)
)

// secretShown is the secret and the client id of a page that shows a new
// secret, with its warning, kept out of caches.
func secretShown(t *testing.T, p page) (id, secret string) {
	t.Helper()
	m, c := clientSecretInput.FindStringSubmatch(p.body), shownID.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || c == nil {
		t.Fatalf("no secret shown: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, "Copy it now: it will not be shown again.") {
		t.Errorf("the secret is shown without its warning\n%s", p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the secret's page: Cache-Control %q, want no-store", cc)
	}
	return c[1], m[1]
}

// secretPage matches the page a new secret is shown on, and its client id.
var secretPage = regexp.MustCompile(`^/admin/clients/([A-Z0-9]+)/secret$`)

// postForSecret posts form to path, which makes a secret: the answer is
// 303 See Other to the client's secret page, with no secret in it or in
// its Location; that page (GET) shows the secret, whose client id and
// value it returns.
func postForSecret(t *testing.T, b *browser, path string, form url.Values) (id, secret string) {
	t.Helper()
	p := b.post(path, form)
	m := secretPage.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("POST %s: %d to %q, want 303 to a client's secret page\n%s", path, p.status, p.location(), p.body)
	}
	if strings.Contains(p.body, "ucs_") || strings.Contains(p.location(), "ucs_") {
		t.Fatalf("POST %s answers with the secret\n%s", path, p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST %s: Cache-Control %q, want no-store", path, cc)
	}
	id, secret = secretShown(t, b.get(p.location()))
	if id != m[1] {
		t.Fatalf("the secret page of %s shows client %s", m[1], id)
	}
	return id, secret
}

// clientKinds are the kinds of the audit events about clients, oldest first.
func clientKinds(t *testing.T, s *site, root user.User) []string {
	t.Helper()
	page, err := s.App.Service().AuditEvents(t.Context(), root, user.AuditFilter{Kinds: oauthclient.AuditKinds, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range slices.Backward(page.Events) {
		if e.ActorID != root.ID {
			t.Errorf("%s by %s, want by the administrator %s", e.Kind, e.ActorID, root.ID)
		}
		kinds = append(kinds, string(e.Kind))
	}
	return kinds
}

// The whole life of a service account in the console: registered with
// its secret shown once, which works at the token endpoint; rotated, the
// old secret fails and the new one works; deleted, nothing works and its
// page is gone. Every change is audited as the API's, and no secret is
// logged.
func TestAdminManagesAClientInTheConsole(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root, base := clientSite(t, kind)
		if p := b.get("/admin/clients/new"); p.status != http.StatusOK || !strings.Contains(p.body, `action="/admin/clients"`) {
			t.Fatalf("the registration form: %d\n%s", p.status, p.body)
		}
		id, secret := postForSecret(t, b, "/admin/clients", serviceAccount(password))
		if got := apptest.ClientCredentialsStatus(t, base, id, secret); got != http.StatusOK {
			t.Fatalf("client_credentials with the shown secret: %d, want 200", got)
		}
		c, err := s.App.Clients().Get(t.Context(), root, id)
		if err != nil || c.Name != "Reporting" || c.AuthMethod != oauthclient.AuthSecretBasic ||
			!slices.Equal(c.Grants, []string{oauthclient.GrantClientCredentials}) || !slices.Equal(c.Scopes, []string{oauthclient.ScopeUsersRead}) {
			t.Fatalf("the registered client: %+v, %v", c, err)
		}
		// Its page shows no secret again.
		if p := b.get("/admin/clients/" + id); p.status != http.StatusOK || strings.Contains(p.body, secret) || strings.Contains(p.body, "client-secret") {
			t.Errorf("the client's page again: %d, shows a secret\n%s", p.status, p.body)
		}

		_, rotated := postForSecret(t, b, "/admin/clients/"+id+"/rotate-secret", url.Values{"current_password": {password}})
		if rotated == secret {
			t.Fatal("rotation showed the same secret")
		}
		if got := apptest.ClientCredentialsStatus(t, base, id, secret); got != http.StatusUnauthorized {
			t.Errorf("the previous secret after rotation: %d, want 401", got)
		}
		if got := apptest.ClientCredentialsStatus(t, base, id, rotated); got != http.StatusOK {
			t.Errorf("the new secret: %d, want 200", got)
		}

		if p := b.get("/admin/clients/" + id + "/delete"); p.status != http.StatusOK || !strings.Contains(p.body, "Delete this client?") {
			t.Fatalf("the confirmation page: %d\n%s", p.status, p.body)
		}
		if p := b.post("/admin/clients/"+id+"/delete", url.Values{"current_password": {password}}); p.status != http.StatusSeeOther || p.location() != "/admin/clients/"+id+"/delete" {
			t.Fatalf("delete without the confirmation: %d to %q, want back to the confirmation page", p.status, p.location())
		}
		if _, err := s.App.Clients().Get(t.Context(), root, id); err != nil {
			t.Fatalf("unconfirmed delete deleted: %v", err)
		}
		p := b.post("/admin/clients/"+id+"/delete", url.Values{"current_password": {password}, "confirm": {"yes"}})
		if p.status != http.StatusSeeOther || p.location() != "/admin/clients?notice=deleted" {
			t.Fatalf("delete: %d to %q\n%s", p.status, p.location(), p.body)
		}
		if got := apptest.ClientCredentialsStatus(t, base, id, rotated); got != http.StatusUnauthorized {
			t.Errorf("a deleted client's secret: %d, want 401", got)
		}
		if p := b.get("/admin/clients/" + id); p.status != http.StatusNotFound {
			t.Errorf("a deleted client's page: %d, want 404", p.status)
		}
		if p := b.get("/admin/clients?notice=deleted"); strings.Contains(p.body, "Reporting") || !strings.Contains(p.body, "The client is deleted.") {
			t.Errorf("the list after delete\n%s", p.body)
		}

		want := []string{string(oauthclient.AuditCreated), string(oauthclient.AuditSecretRotated), string(oauthclient.AuditDeleted)}
		if got := clientKinds(t, s, root); !slices.Equal(got, want) {
			t.Errorf("audit events %q, want %q", got, want)
		}
		if logs := string(s.Logs.Bytes()); strings.Contains(logs, secret) || strings.Contains(logs, rotated) || strings.Contains(logs, "ucs_") {
			t.Error("a client secret is in the logs")
		}
	})
}

// A public client with a redirect URI gets no secret: its page, with the
// registry's defaults for its kind (the code flow with refresh, the
// OpenID scopes, no password grant unless first-party).
func TestAdminRegistersAPublicClientWithTheDefaults(t *testing.T) {
	s, b, root, _ := clientSite(t, apptest.SQLite)
	p := b.post("/admin/clients", url.Values{"name": {"Partner app"}, "token_endpoint_auth_method": {"none"},
		"redirect_uris": {"https://partner.example.com/cb\r\n\r\n  http://127.0.0.1:8080/cb  \r\n"}, "current_password": {password}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/admin/clients/") || !strings.HasSuffix(p.location(), "?notice=created") {
		t.Fatalf("register a public client: %d to %q\n%s", p.status, p.location(), p.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(p.location(), "/admin/clients/"), "?notice=created")
	c, err := s.App.Clients().Get(t.Context(), root, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Public() || c.PasswordGrant() || !slices.Equal(c.RedirectURIs, []string{"https://partner.example.com/cb", "http://127.0.0.1:8080/cb"}) ||
		!slices.Equal(c.Grants, oauthclient.DefaultGrants(oauthclient.NewClient{RedirectURIs: c.RedirectURIs})) ||
		!slices.Equal(c.Scopes, oauthclient.DefaultScopes(c.Grants)) {
		t.Errorf("public client = %+v: want the API's defaults", c)
	}
	page := b.get(p.location())
	if strings.Contains(page.body, "client-secret") || strings.Contains(page.body, "rotate-secret") || !strings.Contains(page.body, "The client is registered.") {
		t.Errorf("a public client's page shows a secret or a rotation\n%s", page.body)
	}
	if r := b.post("/admin/clients/"+id+"/rotate-secret", url.Values{"current_password": {password}}); r.status != http.StatusConflict {
		t.Errorf("rotate a public client's secret: %d, want 409", r.status)
	}
}

// Without the right current password nothing changes: no client is
// registered, the secret still works, the client is still there.
func TestAdminClientChangesNeedTheCurrentPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root, base := clientSite(t, kind)
		for _, pw := range []string{"", "not the password"} {
			p := b.post("/admin/clients", serviceAccount(pw))
			if p.status != http.StatusUnauthorized && p.status != http.StatusForbidden {
				t.Errorf("register with password %q: %d, want 401 or 403", pw, p.status)
			}
			if !strings.Contains(input(p.body, "current_password"), `aria-invalid="true"`) || !strings.Contains(p.body, `value="Reporting"`) {
				t.Errorf("register with password %q: no error on the password field, or the form lost its values\n%s", pw, p.body)
			}
		}
		if list, err := s.App.Clients().List(t.Context(), root); err != nil || len(list) != 0 {
			t.Fatalf("after refused registrations: %d clients, %v", len(list), err)
		}

		id, secret := postForSecret(t, b, "/admin/clients", serviceAccount(password))
		if p := b.post("/admin/clients/"+id+"/rotate-secret", url.Values{"current_password": {"not the password"}}); p.status != http.StatusUnauthorized ||
			!strings.Contains(p.body, "The password is incorrect.") || clientSecretInput.MatchString(p.body) {
			t.Errorf("rotate with a wrong password: %d\n%s", p.status, p.body)
		}
		if got := apptest.ClientCredentialsStatus(t, base, id, secret); got != http.StatusOK {
			t.Errorf("the secret after a refused rotation: %d, want 200", got)
		}
		if p := b.post("/admin/clients/"+id+"/delete", url.Values{"current_password": {"not the password"}, "confirm": {"yes"}}); p.status != http.StatusUnauthorized {
			t.Errorf("delete with a wrong password: %d, want 401", p.status)
		}
		if _, err := s.App.Clients().Get(t.Context(), root, id); err != nil {
			t.Errorf("the client after a refused delete: %v", err)
		}
		if got, want := clientKinds(t, s, root), []string{string(oauthclient.AuditCreated)}; !slices.Equal(got, want) {
			t.Errorf("audit events %q, want only %q", got, want)
		}
	})
}

// A user who is not an administrator, and a form posted from another
// site, change nothing.
func TestAdminClientPagesRefuseOthers(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, admin, root, _ := clientSite(t, kind)
		id, _ := postForSecret(t, admin, "/admin/clients", serviceAccount(password))
		s.account("bob")
		bob := s.browser()
		bob.signIn("bob", password, "/account")
		for _, path := range []string{"/admin/clients", "/admin/clients/new", "/admin/clients/" + id, "/admin/clients/" + id + "/secret", "/admin/clients/" + id + "/delete"} {
			if p := bob.get(path); p.status != http.StatusForbidden {
				t.Errorf("GET %s as a user: %d, want 403", path, p.status)
			}
		}
		posts := map[string]url.Values{
			"/admin/clients": serviceAccount(password),
			"/admin/clients/" + id + "/rotate-secret": {"current_password": {password}},
			"/admin/clients/" + id + "/delete":        {"current_password": {password}, "confirm": {"yes"}},
		}
		for path, form := range posts {
			if p := bob.post(path, form); p.status != http.StatusForbidden || clientSecretInput.MatchString(p.body) {
				t.Errorf("POST %s as a user: %d, want 403", path, p.status)
			}
			// The administrator's own browser, tricked by another site.
			if p := admin.post(path, form, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden || !strings.Contains(p.body, "sent from another site") {
				t.Errorf("cross-site POST %s: %d, want 403\n%s", path, p.status, p.body)
			}
			if p := admin.post(path, form, "Sec-Fetch-Site", "", "Origin", "https://evil.example"); p.status != http.StatusForbidden {
				t.Errorf("POST %s from a foreign origin: %d, want 403", path, p.status)
			}
		}
		if list, err := s.App.Clients().List(t.Context(), root); err != nil || len(list) != 1 {
			t.Errorf("clients after refused posts: %d, %v; want the one registered", len(list), err)
		}
		if got, want := clientKinds(t, s, root), []string{string(oauthclient.AuditCreated)}; !slices.Equal(got, want) {
			t.Errorf("audit events %q, want only %q", got, want)
		}
	})
}

// The registry's rules show next to their field in the catalogue's words,
// the form keeps what was typed, and nothing is registered.
func TestAdminClientFormShowsTheRegistrysRules(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root, _ := clientSite(t, kind)
		for _, tt := range []struct {
			name  string
			form  url.Values
			field string // its error element's id
			want  string
		}{
			{"http redirect URI", url.Values{"name": {"Partner"}, "redirect_uris": {"https://ok.example.com/cb\nhttp://partner.example.com/cb"}},
				"f-redirect_uris-error", `"http://partner.example.com/cb": use https; plain http is only for localhost, 127.0.0.1 or [::1].`},
			{"wildcard", url.Values{"name": {"Partner"}, "redirect_uris": {"https://*.example.com/cb"}},
				"f-redirect_uris-error", "may not hold a wildcard"},
			{"code flow without redirect URI", url.Values{"name": {"Partner"}, "grant_types": {"authorization_code"}},
				"f-redirect_uris-error", "Sign-in through the browser needs at least one redirect URI."},
			{"public service account", url.Values{"name": {"Robot"}, "token_endpoint_auth_method": {"none"}, "grant_types": {"client_credentials"}},
				"f-grant_types-error", "A service account (client credentials) needs a secret"},
			{"admin scope without client credentials", url.Values{"name": {"Partner"}, "redirect_uris": {"https://p.example.com/cb"}, "scopes": {"users:write"}},
				"f-scopes-error", "users:write is for service accounts"},
			{"blank name", url.Values{"name": {"   "}, "redirect_uris": {"https://p.example.com/cb"}},
				"f-name-error", "A name is 1 to 100 characters"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.form.Set("current_password", password)
				p := b.post("/admin/clients", tt.form)
				if p.status != http.StatusUnprocessableEntity {
					t.Fatalf("%d, want 422\n%s", p.status, p.body)
				}
				m := regexp.MustCompile(`<p class="error" id="` + tt.field + `">([^<]*)</p>`).FindStringSubmatch(p.body)
				if m == nil || !strings.Contains(html.UnescapeString(m[1]), tt.want) {
					t.Errorf("error at %s = %v, want %q\n%s", tt.field, m, tt.want, p.body)
				}
				if !strings.Contains(p.body, "Please correct the fields marked below.") {
					t.Errorf("no form-level message")
				}
				if ru := tt.form.Get("redirect_uris"); ru != "" && !strings.Contains(p.body, html.EscapeString(ru)) {
					t.Errorf("the form lost the redirect URIs %q", ru)
				}
				if clientSecretInput.MatchString(p.body) {
					t.Error("a refused registration shows a secret")
				}
			})
		}
		if list, err := s.App.Clients().List(t.Context(), root); err != nil || len(list) != 0 {
			t.Errorf("after refused registrations: %d clients, %v", len(list), err)
		}
	})
}
