package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/web"
)

// fieldError is the text shown under the field name of body, "" for none.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`<p class="error" id="f-` + regexp.QuoteMeta(name) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// A refused input shows the pages' own words for the rule it broke, from
// the catalogue (with the rule's numbers), under its field; never the
// API's message.
func TestPagesSayValidationRulesInCatalogueWords(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	msgs := web.Messages()
	say := func(code user.Code, args ...any) string { return fmt.Sprintf(msgs["invalid."+string(code)], args...) }
	good := url.Values{"email": {"grace@example.com"}, "username": {"grace"}, "password": {password}}
	with := func(field, value string) url.Values {
		v := url.Values{}
		for k, vs := range good {
			v[k] = vs
		}
		v.Set(field, value)
		return v
	}
	b := s.browser()
	for _, tt := range []struct {
		name, field, value string
		code               user.Code
		args               []any
	}{
		{"a short password", "password", "short", user.CodePasswordTooShort, []any{user.MinPasswordChars}},
		{"a password of the username", "password", "GraceGrace", user.CodePasswordIdentity, nil},
		{"no email", "email", "", user.CodeRequired, nil},
		{"an email without @", "email", "grace.example.com", user.CodeEmailMalformed, nil},
		{"an email without a domain name", "email", "grace@localhost", user.CodeEmailDomain, nil},
		{"a short username", "username", "gh", user.CodeUsernameLength, []any{user.MinUsername, user.MaxUsername}},
		{"a username with a space", "username", "grace hopper", user.CodeUsernameChars, nil},
	} {
		form := with(tt.field, tt.value)
		if tt.code == user.CodePasswordIdentity {
			form.Set("username", "GraceGrace")
		}
		p := b.post("/sign-up", form)
		want := say(tt.code, tt.args...)
		if strings.Contains(want, "%!") || want == "" {
			t.Fatalf("%s: catalogue text %q", tt.name, want)
		}
		if got := fieldError(p.body, tt.field); p.status != http.StatusUnprocessableEntity || got != want {
			t.Errorf("%s: %d, under %s %q; want 422 and %q\n%s", tt.name, p.status, tt.field, got, want, p.body)
		}
		if api := fmt.Sprintf(tt.code.Message(), tt.args...); want == api {
			t.Errorf("%s: the catalogue's text is the API's message %q: the test proves nothing", tt.name, api)
		}
	}

	// A rule met on another form, on its own field there.
	b.signIn("ada", password, "/account")
	p := b.post("/account/password", url.Values{"current_password": {password}, "new_password": {password}})
	if got, want := fieldError(p.body, "new_password"), say(user.CodePasswordUnchanged); p.status != http.StatusUnprocessableEntity || got != want {
		t.Errorf("the same password again: %d, %q; want 422 and %q\n%s", p.status, got, want, p.body)
	}
	p = b.post("/account/password", url.Values{"current_password": {password}, "new_password": {"short"}})
	if got, want := fieldError(p.body, "new_password"), say(user.CodePasswordTooShort, user.MinPasswordChars); p.status != http.StatusUnprocessableEntity || got != want {
		t.Errorf("a short new password: %d, %q; want 422 and %q\n%s", p.status, got, want, p.body)
	}
	p = b.post("/account/profile", url.Values{"full_name": {"Ada\u202eLovelace"}, "email": {"ada@example.com"}})
	if got, want := fieldError(p.body, "full_name"), say(user.CodeNameCharacters); p.status != http.StatusUnprocessableEntity || got != want {
		t.Errorf("a name with a bidi override: %d, %q; want 422 and %q\n%s", p.status, got, want, p.body)
	}
}
