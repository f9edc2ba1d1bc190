package oidcop_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/web"
)

// TestConsentPageIsAHostedPage: the consent page is one of the hosted
// pages: their layout (language, skip link, header, the versioned
// stylesheet), the catalogue's words for its title and for each scope,
// the client named with where the answer goes, the way to take the
// consent back (/account/apps), no inline script, and the pages' security
// headers with the client's redirect origin as a form-action (the form's
// answer redirects there). The page of a request that cannot go back to
// its client is a hosted page too, in the catalogue's words.
func TestConsentPageIsAHostedPage(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		br := f.signIn()
		spa := &oauth2.Config{ClientID: spaClient, Endpoint: f.provider.Endpoint(), RedirectURL: spaOrigin + "/cb",
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
		status, h, page := br.get(spa.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if status != http.StatusOK {
			t.Fatalf("consent page: %d, want 200\n%s", status, page)
		}
		msg := web.Messages()
		want := []string{
			`<html lang="` + msg["lang"] + `">`,
			`<a class="skip" href="#main">` + msg["skip"] + `</a>`,
			`<header class="top">`,
			`<link rel="stylesheet" href="/assets/app.css?v=`,
			`<main id="main" tabindex="-1">`,
			`<h1>` + fmt.Sprintf(msg["consent.title"], spaClient) + `</h1>`,
			fmt.Sprintf(msg["consent.asks_at"], spaClient, strings.TrimPrefix(spaOrigin, "http://")),
			`<a href="/account/apps">` + msg["consent.later_link"] + `</a>`,
			`<button type="submit" name="decision" value="allow">` + msg["consent.allow"] + `</button>`,
			`<button type="submit" name="decision" value="deny" class="quiet">` + msg["consent.deny"] + `</button>`,
			`action="/oauth/consent"`,
		}
		for _, s := range []string{"scope.openid", "scope.profile", "scope.email", "scope.offline_access"} {
			want = append(want, "<li>"+msg[s]+"</li>")
		}
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("the consent page lacks %s", w)
			}
		}
		if m := regexp.MustCompile(`<script(?:\s[^>]*)?>`).FindAllString(page, -1); len(m) != strings.Count(page, `<script src="/assets/`) {
			t.Errorf("the consent page has a script of its own: %v", m)
		}
		csp := h.Get("Content-Security-Policy")
		if !regexp.MustCompile(`form-action 'self'[^;]* `+regexp.QuoteMeta(spaOrigin)+`(;| )`).MatchString(csp) ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("consent page CSP %q: want the pages' policy with form-action allowing %s", csp, spaOrigin)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("consent page headers: %v, want the pages' security headers", h)
		}
		// The decision still goes through the form's fields.
		if q := br.consent(hiddenID(t, page), "allow"); q.Get("code") == "" {
			t.Errorf("allow on the hosted consent page: %v, want a code", q)
		}

		status, h, page = br.get(f.base + "/oauth/login?id=no-such-request")
		if status != http.StatusBadRequest || !strings.Contains(page, `<h1>`+msg["oidc.dead.title"]+`</h1>`) ||
			!strings.Contains(page, msg["oidc.dead.body"]) || !strings.Contains(page, `<a class="skip" href="#main">`) {
			t.Errorf("a dead request: %d, want 400 with the hosted page of the catalogue's words\n%s", status, page)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || strings.Contains(csp, spaOrigin) {
			t.Errorf("dead request's CSP %q: want the pages' own", csp)
		}
	})
}

// TestDeadRequestWithoutPages: with the hosted pages off, a request that
// cannot go back to its client is still answered, in plain text.
func TestDeadRequestWithoutPages(t *testing.T) {
	srv := apptest.New(t, apptest.SQLite, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://127.0.0.1:1",
		"USERSVC_UI", "off"))
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/login?id=no-such-request", nil))
	if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), "sign in again") {
		t.Errorf("dead request without pages: %d %q %q, want 400 and a plain text answer", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// get GETs u in b without following a redirect off the service, and
// returns the status, headers and body of the last answer.
func (b *browser) get(u string) (int, http.Header, string) {
	b.f.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}
