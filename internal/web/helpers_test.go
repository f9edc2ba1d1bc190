package web_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// eachStore runs test on every real store (SQLite, PostgreSQL), each in a
// parallel subtest named for the store.
func eachStore(t *testing.T, test func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range apptest.Stores() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, kind)
		})
	}
}

// password is every test account's password.
const password = "correct horse battery staple"

// site is the service under test with helpers to make accounts.
type site struct {
	*apptest.Server
	t *testing.T
}

func newSite(t *testing.T, kind string, opts ...apptest.Option) *site {
	t.Helper()
	return &site{Server: apptest.New(t, kind, opts...), t: t}
}

// limitsOn switches the rate limits and the lockout on (no slowdown, which
// waits on the wall clock), with kv over the defaults.
func limitsOn(kv ...string) apptest.Option {
	return apptest.Env(append([]string{"USERSVC_RATE_LIMITS", "on", "USERSVC_LOGIN_SLOWDOWN_AFTER", "0"}, kv...)...)
}

// account registers name (email name@example.com) with password.
func (s *site) account(name string) user.User {
	s.t.Helper()
	u, err := s.App.Service().Register(context.Background(), user.Registration{
		Email: name + "@example.com", Username: name, Password: password,
	})
	if err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	return u
}

// mail waits for the mail of kind to the address to.
func (s *site) mail(kind, to string) usertest.Mail {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Mail.Take(ctx, kind, to)
	if err != nil {
		s.t.Fatalf("no %s mail to %s: %v", kind, to, err)
	}
	return m
}

// browser sends requests as a browser on the service's own origin does:
// it keeps the cookies it is given and marks its form posts same-origin.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
	header  http.Header // sent with every request
}

func (s *site) browser() *browser {
	return &browser{t: s.t, h: s.Handler, cookies: map[string]*http.Cookie{}, header: http.Header{"User-Agent": {"TestBrowser/1.0"}}}
}

// page is an answer: status, headers and body.
type page struct {
	status int
	header http.Header
	body   string
}

// location is where a redirect points.
func (p page) location() string { return p.header.Get("Location") }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends form to path as a same-origin form post.
func (b *browser) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return b.do(req)
}

// signIn signs in with login and password and expects to land on want.
func (b *browser) signIn(login, pw, want string) {
	b.t.Helper()
	p := b.post("/sign-in", url.Values{"login": {login}, "password": {pw}})
	if p.status != http.StatusSeeOther || p.location() != want {
		b.t.Fatalf("sign in as %s: %d to %q, want 303 to %q\n%s", login, p.status, p.location(), want, p.body)
	}
}

// sessionCookie is the browser's session cookie, nil for none.
func (b *browser) sessionCookie() *http.Cookie {
	for name, c := range b.cookies {
		if strings.HasSuffix(name, "usersvc_session") {
			return c
		}
	}
	return nil
}

// hiddenValue is the value of the hidden input name in body.
func hiddenValue(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no hidden %s in\n%s", name, body)
	}
	return m[1]
}

// input is the <input> tag of the field name in body, "" for none.
func input(body, name string) string {
	return regexp.MustCompile(`<input id="f-` + regexp.QuoteMeta(name) + `"[^>]*>`).FindString(body)
}

// sessionID is the id of the session the browser's cookie names (the
// cookie is the user id, the session id and a MAC, base64url).
func (b *browser) sessionID() uuid.UUID {
	b.t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(b.sessionCookie().Value)
	if err != nil || len(raw) < 32 {
		b.t.Fatalf("session cookie: %v", err)
	}
	id, _ := uuid.FromBytes(raw[16:32])
	return id
}
