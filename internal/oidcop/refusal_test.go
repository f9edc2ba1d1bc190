package oidcop_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/web"
)

// evilURI is a redirect URI no client registered: whoever made the link
// chose it, so no answer may link, redirect or point to it.
const evilURI = "https://evil.example/steal"

// authorizeURL is the authorization endpoint of f with params.
func (f *fixture) authorizeURL(params url.Values) string {
	return f.base + oidcop.AuthorizePath + "?" + params.Encode()
}

// codeRequest is a well-formed code flow request of client to redirect,
// with PKCE.
func codeRequest(client, redirect string) url.Values {
	return url.Values{
		"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
}

// TestAuthorizeThatCannotGoBackGetsTheHostedPage: an authorization
// request that must not be answered at its client (RFC 6749 section
// 4.1.2.1: an unknown client_id, a redirect_uri missing, malformed or not
// registered for the client) gets the hosted page saying the sign-in link
// is not valid: 400, HTML in the pages' layout and catalogue words, the
// pages' security headers, no Location, and nothing of the request's
// redirect URI anywhere in it. Before, a browser got zitadel's plain text.
func TestAuthorizeThatCannotGoBackGetsTheHostedPage(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		msg := web.Messages()
		without := func(k string) url.Values { q := codeRequest(webClient, rpOrigin+"/cb"); q.Del(k); return q }
		for _, tt := range []struct {
			name, url string
		}{
			{"unknown client", f.authorizeURL(codeRequest("no-such-client", evilURI))},
			{"unregistered redirect URI", f.authorizeURL(codeRequest(webClient, evilURI))},
			{"redirect URI one character off", f.authorizeURL(codeRequest(webClient, rpOrigin+"/cb/"))},
			{"another client's redirect URI", f.authorizeURL(codeRequest(webClient, spaOrigin+"/cb"))},
			{"no redirect URI", f.authorizeURL(without("redirect_uri"))},
			{"no client", f.authorizeURL(without("client_id"))},
			{"malformed query", f.base + oidcop.AuthorizePath + "?client_id=" + webClient + "&redirect_uri=%zz" + url.QueryEscape(evilURI)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				status, h, page := f.browser().get(tt.url)
				if status != http.StatusBadRequest || h.Get("Location") != "" {
					t.Fatalf("%d to %q, want 400 and no redirect\n%s", status, h.Get("Location"), page)
				}
				if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want the hosted page (text/html)\n%s", ct, page)
				}
				for _, want := range []string{
					"<h1>" + msg["oidc.invalid.title"] + "</h1>", msg["oidc.invalid.body"],
					`<a class="skip" href="#main">`, `<main id="main" tabindex="-1">`, `<link rel="stylesheet" href="/assets/app.css?v=`,
				} {
					if !strings.Contains(page, want) {
						t.Errorf("the page lacks %s\n%s", want, page)
					}
				}
				if strings.Contains(page, "evil.example") || strings.Contains(page, "127.0.0.1:9") {
					t.Errorf("the page shows the request's redirect URI\n%s", page)
				}
				csp := h.Get("Content-Security-Policy")
				if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
					strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "evil.example") {
					t.Errorf("CSP %q, want the pages' own", csp)
				}
				if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("headers %v, want the pages' security headers", h)
				}
			})
		}
	})
}

// TestAuthorizeRequestsAreBoundedInSize: every anonymous authorization
// request naming a registered client and redirect URI is stored for
// RequestTTL; its state, nonce and login_hint were stored at whatever
// length the request carried (here 60 KB in a POST body, 200 times from
// one address). Beyond the bounds it is refused, invalid_request, and
// stored not.
func TestAuthorizeRequestsAreBoundedInSize(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	noRedirect := &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	big := strings.Repeat("A", 60<<10)
	for _, name := range []string{"state", "nonce", "login_hint", "code_challenge", "scope"} {
		form := codeRequest(webClient, rpOrigin+"/cb")
		form.Set(name, big)
		if name == "scope" {
			form.Set(name, "openid"+strings.Repeat(" profile", 40))
		}
		res, err := noRedirect.PostForm(f.base+oidcop.AuthorizePath, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := res.Location()
		if loc == nil || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), name+" is too long") {
			t.Errorf("an authorization request with %s oversized: %d to %v, want invalid_request at the client", name, res.StatusCode, loc)
		}
	}
	// Within the bounds it goes on to sign-in.
	form := codeRequest(webClient, rpOrigin+"/cb")
	form.Set("state", strings.Repeat("A", 2048))
	res, err := noRedirect.PostForm(f.base+oidcop.AuthorizePath, form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc, _ := res.Location(); loc == nil || loc.Path != "/oauth/login" {
		t.Errorf("a 2 KB state: %d to %v, want the sign-in handoff", res.StatusCode, loc)
	}
}

// TestAuthorizeIsRateLimitedPerAddress: nothing limited how many
// authorization requests, each stored, one address made. With the rate
// limits on, they count against USERSVC_RATE_LIMIT_WRITE (60/1m) from
// one address; the one after gets 429 with Retry-After and is not stored.
func TestAuthorizeIsRateLimitedPerAddress(t *testing.T) {
	f := newFixture(t, apptest.SQLite, "USERSVC_RATE_LIMITS", "on")
	noRedirect := &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	stored := 0
	for range 61 {
		res, err := noRedirect.Get(f.authorizeURL(codeRequest(webClient, rpOrigin+"/cb")))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch loc, _ := res.Location(); {
		case res.StatusCode == http.StatusFound && loc != nil && loc.Path == "/oauth/login":
			stored++
		case res.StatusCode == http.StatusTooManyRequests:
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("authorize: %d to %v", res.StatusCode, loc)
		}
	}
	if stored != 60 {
		t.Errorf("%d of 61 authorization requests from one address were stored, want 60 (USERSVC_RATE_LIMIT_WRITE)", stored)
	}
}

// TestAuthorizeErrorsThatCanGoBackStillRedirect: with a registered client
// and its registered redirect URI, what else is wrong with the request
// goes back to the client as before, as error= at its redirect URI with
// state and iss (an unsupported response_type, a missing scope, an
// unsupported response_mode). An error answered in the fragment (the
// response_mode=fragment asked, or an implicit response_type) carries iss
// there too (RFC 9207 section 2: every authorization response, errors
// included, where discovery says it is supported): it had none.
func TestAuthorizeErrorsThatCanGoBackStillRedirect(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		f := newFixture(t, kind)
		badType := codeRequest(webClient, rpOrigin+"/cb")
		badType.Set("response_type", "token")
		noScope := codeRequest(webClient, rpOrigin+"/cb")
		noScope.Del("scope")
		fragment := codeRequest(webClient, rpOrigin+"/cb")
		fragment.Set("response_mode", "fragment")
		implicit := codeRequest(webClient, rpOrigin+"/cb")
		implicit.Set("response_type", "id_token")
		implicit.Set("nonce", "n")
		byReference := codeRequest(webClient, rpOrigin+"/cb")
		byReference.Set("request_uri", rpOrigin+"/requests/1")
		requestObject := codeRequest(webClient, rpOrigin+"/cb")
		requestObject.Set("request", "eyJhbGciOiJub25lIn0.e30.")
		for _, tt := range []struct {
			name   string
			params url.Values
			error  string
		}{
			{"unsupported response_type", badType, "unauthorized_client"},
			{"no scope", noScope, "invalid_request"},
			{"response_mode fragment", fragment, "invalid_request"},
			{"implicit response_type", implicit, "unauthorized_client"},
			// Discovery says neither is supported: refused, not ignored
			// (the provider went on without what the reference held).
			{"request_uri", byReference, "request_uri_not_supported"},
			{"request object", requestObject, "request_not_supported"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				loc, status, body := f.browser().visit(f.authorizeURL(tt.params))
				if loc == nil {
					t.Fatalf("%d, want a redirect to the client\n%s", status, body)
				}
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != rpOrigin+"/cb" {
					t.Fatalf("sent to %s, want the registered redirect URI", loc)
				}
				q := loc.Query()
				if fragment, err := url.ParseQuery(loc.Fragment); err == nil && q.Get("error") == "" {
					q = fragment // implicit response types answer in the fragment
				}
				if q.Get("error") != tt.error || q.Get("state") != "s" || q.Get("iss") != f.base {
					t.Errorf("answer %v, want error=%s with state and iss", q, tt.error)
				}
			})
		}
	})
}

// TestAuthorizeThatCannotGoBackAnswersProgramsInJSON: a request that
// accepts JSON and not HTML gets the API's problem (the error table's
// invalid_request) instead of the page; a browser that accepts both gets
// the page.
func TestAuthorizeThatCannotGoBackAnswersProgramsInJSON(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	get := func(accept string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.authorizeURL(codeRequest(webClient, evilURI)), nil)
		req.Header.Set("Accept", accept)
		res, err := f.browser().c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = res.Body.Close() })
		return res
	}
	res := get("application/json")
	var p struct {
		Status       int
		Code, Detail string
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" ||
		p.Status != http.StatusBadRequest || p.Code != "invalid_request" || p.Detail != oidcop.ErrInvalidAuthorization.Error() {
		t.Errorf("JSON only: %d %q %+v, want 400 application/problem+json invalid_request", res.StatusCode, res.Header.Get("Content-Type"), p)
	}
	if res.Header.Get("Location") != "" || !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept") ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("JSON only: headers %v, want no Location, Vary: Accept and the API's nosniff and no-store", res.Header)
	}
	for _, accept := range []string{"text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8", "*/*", "application/json;q=0, text/html"} {
		if res := get(accept); res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("Accept %q: %d %q, want the 400 page", accept, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestAuthorizeThatCannotGoBackWithoutPages: with the hosted pages off,
// the refusal is the service's own sentence in plain text, not op's.
func TestAuthorizeThatCannotGoBackWithoutPages(t *testing.T) {
	srv := apptest.New(t, apptest.SQLite, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://127.0.0.1:1",
		"USERSVC_UI", "off"))
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidcop.AuthorizePath+"?"+codeRequest("no-such-client", evilURI).Encode(), nil))
	if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), "This sign-in link is not valid.") || strings.Contains(rec.Body.String(), "evil.example") ||
		rec.Header().Get("Location") != "" {
		t.Errorf("without pages: %d %q %q, want 400 and the service's plain text", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestAuthorizeRequestURIPostedIsRefused: a request passed by reference in
// a POSTed form (OpenID Connect Core 3.1.2.1 lets the parameters come
// either way) is refused as one in the query is. And the check reads the
// query without parsing the request's form, so op still meets a
// malformed query itself (TestAuthorizeRefusalLogsOneInfoLine).
func TestAuthorizeRequestURIPostedIsRefused(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	params := codeRequest(webClient, rpOrigin+"/cb")
	params.Set("request_uri", rpOrigin+"/requests/1")
	status, to := f.browser().form(oidcop.AuthorizePath, params)
	loc, err := url.Parse(to)
	if err != nil || status != http.StatusFound && status != http.StatusSeeOther {
		t.Fatalf("%d to %q, want a redirect to the client", status, to)
	}
	if q := loc.Query(); loc.Scheme+"://"+loc.Host+loc.Path != rpOrigin+"/cb" || q.Get("error") != "request_uri_not_supported" || q.Get("state") != "s" {
		t.Errorf("sent to %s, want the client's redirect URI with error=request_uri_not_supported and state", loc)
	}
}
