package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// A new client secret is shown once, Post/Redirect/Get: the form's POST
// answers 303 See Other to the client's secret page, the secret travels
// to it in a short-lived sealed cookie of that page's path, and the page
// removes the cookie as it shows the secret. A reload shows no secret and
// makes or rotates nothing.

// secretGone is the notice of a secret page without its secret.
const secretGone = "The secret was shown once and is not kept"

// secretCookieOf is the one-time secret cookie p sets, nil for none.
func secretCookieOf(p page) *http.Cookie {
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if strings.HasSuffix(c.Name, "usersvc_secret") {
			return c
		}
	}
	return nil
}

// postHolding posts form to path, which makes a secret, and returns the
// secret page it redirects to and the cookie that carries the secret.
func postHolding(t *testing.T, b *browser, path string, form url.Values) (string, *http.Cookie) {
	t.Helper()
	p := b.post(path, form)
	c := secretCookieOf(p)
	if p.status != http.StatusSeeOther || !secretPage.MatchString(p.location()) || c == nil {
		t.Fatalf("POST %s: %d to %q, cookie %v; want 303 to a secret page with its cookie\n%s", path, p.status, p.location(), c, p.body)
	}
	return p.location(), c
}

// notShown checks that p is the client's page without a secret, saying
// the secret was shown once.
func notShown(t *testing.T, p page, secrets ...string) {
	t.Helper()
	if p.status != http.StatusOK || clientSecretInput.MatchString(p.body) || strings.Contains(p.body, "ucs_") || !strings.Contains(p.body, secretGone) {
		t.Errorf("a secret page without its secret: %d, want 200 saying it was shown once, no secret\n%s", p.status, p.body)
	}
	for _, s := range secrets {
		if strings.Contains(p.body, s) {
			t.Errorf("the page shows the secret %q", s)
		}
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}

// cleared checks that p removes the one-time secret cookie of path.
func cleared(t *testing.T, p page, path string) {
	t.Helper()
	if c := secretCookieOf(p); c == nil || c.MaxAge >= 0 || c.Path != path {
		t.Errorf("the secret cookie after its page: %v, want Max-Age=0 on Path=%s", c, path)
	}
}

func TestAdminClientSecretIsShownOnceAfterARedirect(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, root, base := clientSite(t, kind)
		path, c := postHolding(t, b, "/admin/clients", serviceAccount(password))
		if c.Name != "usersvc_secret" || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteStrictMode ||
			c.Path != path || c.MaxAge != 300 || c.Domain != "" {
			t.Errorf("cookie %+v: want usersvc_secret, HttpOnly, SameSite=Strict, Path=%s, Max-Age=300, no Domain (plain http)", c, path)
		}
		p := b.get(path)
		id, secret := secretShown(t, p)
		if !strings.Contains(p.body, "The client is registered.") {
			t.Errorf("the secret page after registration lacks its notice\n%s", p.body)
		}
		cleared(t, p, path)
		if raw, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || strings.Contains(string(raw), secret) || strings.Contains(c.Value, secret) {
			t.Errorf("the cookie holds the secret in the clear (%v)", err)
		}

		// Reload: no secret, nothing registered again.
		p = b.get(path)
		notShown(t, p, secret)
		if !strings.Contains(p.body, `action="/admin/clients/`+id+`/rotate-secret"`) {
			t.Errorf("the page after the secret lacks the rotation form\n%s", p.body)
		}
		if list, err := s.App.Clients().List(t.Context(), root); err != nil || len(list) != 1 {
			t.Errorf("after a reload: %d clients, %v; want 1", len(list), err)
		}
		if got := apptest.ClientCredentialsStatus(t, base, id, secret); got != http.StatusOK {
			t.Errorf("the secret after a reload: %d, want 200 (not rotated)", got)
		}

		// Rotation: the same, and a reload rotates nothing.
		rpath, _ := postHolding(t, b, "/admin/clients/"+id+"/rotate-secret", url.Values{"current_password": {password}})
		if rpath != path {
			t.Errorf("rotation redirects to %q, want %q", rpath, path)
		}
		p = b.get(path)
		_, rotated := secretShown(t, p)
		if rotated == secret || !strings.Contains(p.body, "The secret is replaced") {
			t.Errorf("the rotated secret's page: same secret or no notice\n%s", p.body)
		}
		cleared(t, p, path)
		notShown(t, b.get(path), secret, rotated)
		if got := apptest.ClientCredentialsStatus(t, base, id, rotated); got != http.StatusOK {
			t.Errorf("the rotated secret after a reload: %d, want 200 (not rotated again)", got)
		}
		want := []string{string(oauthclient.AuditCreated), string(oauthclient.AuditSecretRotated)}
		if got := clientKinds(t, s, root); !slices.Equal(got, want) {
			t.Errorf("audit events %q, want %q", got, want)
		}
		if logs := s.Logs.Bytes(); strings.Contains(string(logs), "ucs_") || strings.Contains(string(logs), c.Value) {
			t.Error("a secret or its cookie is in the logs")
		}
	})
}

// The cookie opens only for the session that made it: another
// administrator, the same administrator signed in elsewhere, and nobody
// signed in see no secret with a copy of it, and its own browser still
// does.
func TestAdminClientSecretCookieOpensOnlyForItsSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s, b, _, _ := clientSite(t, kind)
		path, c := postHolding(t, b, "/admin/clients", serviceAccount(password))
		stolen := c // a copy of the cookie's value, as another browser would send it

		if _, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "ops@example.com", Username: "ops", Password: password}, "Ops"); err != nil {
			t.Fatal(err)
		}
		ops := s.browser()
		ops.signIn("ops", password, "/account")
		again := s.browser()
		again.signIn("root", password, "/account")
		for name, other := range map[string]*browser{"another administrator": ops, "another session of the administrator": again} {
			other.cookies[stolen.Name] = stolen
			p := other.get(path)
			notShown(t, p)
			cleared(t, p, path)
			if t.Failed() {
				t.Fatalf("%s with the cookie", name)
			}
		}
		anon := s.browser()
		anon.cookies[stolen.Name] = stolen
		if p := anon.get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/sign-in") || strings.Contains(p.body, "ucs_") {
			t.Errorf("nobody signed in with the cookie: %d to %q, want sent to sign in\n%s", p.status, p.location(), p.body)
		}
		secretShown(t, b.get(path)) // the administrator's own browser
	})
}

// A cookie that does not open (altered, garbage, made for another
// client, expired) shows no secret, is removed, and fails nothing else.
func TestAdminClientSecretCookieRefusedWhenAltered(t *testing.T) {
	s, b, _, _ := clientSite(t, apptest.SQLite)
	path, _ := postHolding(t, b, "/admin/clients", serviceAccount(password))
	b.get(path)
	other, _ := postHolding(t, b, "/admin/clients", serviceAccount(password))
	b.get(other)
	id := secretPage.FindStringSubmatch(path)[1]
	for _, tt := range append(spoiledCookies(),
		spoiledCookie{"empty", func(string) string { return "" }, 0},
		spoiledCookie{"made for another client", nil, 0}) {
		t.Run(tt.name, func(t *testing.T) {
			from := path
			if tt.alter == nil {
				from = other
			}
			_, c := postHolding(t, b, "/admin/clients/"+secretPage.FindStringSubmatch(from)[1]+"/rotate-secret", url.Values{"current_password": {password}})
			if tt.alter != nil {
				c.Value = tt.alter(c.Value)
			}
			b.cookies[c.Name] = c
			s.Clock.Advance(tt.wait)
			p := b.get(path)
			notShown(t, p)
			cleared(t, p, path)
			if p := b.get("/admin/clients/" + id); p.status != http.StatusOK {
				t.Errorf("the client's page after a refused cookie: %d", p.status)
			}
		})
	}
}

// Behind https the cookie is Secure and __Secure- prefixed (not __Host-,
// which requires Path=/), as the session cookie is Secure there.
func TestAdminClientSecretCookieIsSecureBehindHTTPS(t *testing.T) {
	s := newSite(t, apptest.SQLite, apptest.Env("USERSVC_PUBLIC_URL", "https://auth.example.com"))
	if _, err := s.App.Service().CreateAdmin(t.Context(), user.Registration{Email: "root@example.com", Username: "root", Password: password}, "Root Admin"); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.signIn("root", password, "/account")
	path, c := postHolding(t, b, "/admin/clients", serviceAccount(password))
	if c.Name != "__Secure-usersvc_secret" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != path {
		t.Errorf("cookie %+v: want __Secure-usersvc_secret, Secure, HttpOnly, SameSite=Strict, Path=%s", c, path)
	}
	p := b.get(path)
	secretShown(t, p)
	if c := secretCookieOf(p); c == nil || c.Name != "__Secure-usersvc_secret" || !c.Secure || c.MaxAge >= 0 {
		t.Errorf("the cookie's removal %+v: want the same Secure cookie with Max-Age=0", c)
	}
}

// spoiledCookie is a way to spoil a one-time secret's cookie (alter its
// value), and how long the clock moves before the cookie is presented.
type spoiledCookie struct {
	name  string
	alter func(value string) string
	wait  time.Duration
}

// spoiledCookies are the cookies every one-time secret's page must
// refuse cleanly: altered, cut short, not base64, expired.
func spoiledCookies() []spoiledCookie {
	return []spoiledCookie{
		{"a flipped byte", func(v string) string {
			raw, _ := base64.RawURLEncoding.DecodeString(v)
			raw[len(raw)/2] ^= 1
			return base64.RawURLEncoding.EncodeToString(raw)
		}, 0},
		{"cut short", func(v string) string { return v[:10] }, 0},
		{"not base64", func(string) string { return "not*base64!" }, 0},
		{"expired", func(v string) string { return v }, 5*time.Minute + time.Second}, // the cookie lives 5 minutes
	}
}
