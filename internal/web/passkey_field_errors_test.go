package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
)

// TestPasskeyFormsTieErrorsToTheirFields: with two passkeys listed, a
// wrong or missing password on one's Remove form, or a refused name on
// one's Rename form, is said on that form's field (as on the MFA page:
// aria-invalid, aria-describedby naming the error's text, said once), and
// the other passkey's forms are left as they were; a refused name is kept
// in its field to correct.
func TestPasskeyFormsTieErrorsToTheirFields(t *testing.T) {
	s := newSite(t, apptest.SQLite)
	s.account("ada")
	b := s.browser()
	b.signIn("ada", password, "/account")
	for range 2 {
		if p := b.addPasskey(passkeytest.NewAuthenticator(passkeyOrigin), ""); p.status != http.StatusCreated {
			t.Fatalf("add a passkey: %d\n%s", p.status, p.body)
		}
	}
	s.Clock.Advance(11 * time.Minute) // past the re-authentication window
	ids := regexp.MustCompile(`action="/account/passkeys/([^"/]+)/remove"`).FindAllStringSubmatch(b.get("/account/passkeys").body, -1)
	if len(ids) != 2 {
		t.Fatalf("%d remove forms, want 2", len(ids))
	}
	first, second := ids[0][1], ids[1][1]
	tooLong := strings.Repeat("n", 65)

	for _, tt := range []struct {
		name   string
		path   string
		form   url.Values
		input  string // the field's id
		text   string
		others []string // the other fields' ids, left untouched
	}{
		{"removal, a wrong password", "/account/passkeys/" + second + "/remove", url.Values{"current_password": {"not the password"}},
			"remove-password-" + second, "The password is incorrect.", []string{"remove-password-" + first, "rename-" + first, "rename-" + second}},
		{"removal, no password", "/account/passkeys/" + first + "/remove", url.Values{},
			"remove-password-" + first, "Enter your current password to make this change.", []string{"remove-password-" + second, "rename-" + first, "rename-" + second}},
		{"rename, too long a name", "/account/passkeys/" + second + "/rename", url.Values{"name": {tooLong}},
			"rename-" + second, "A passkey name is 1 to 64 characters, without control or invisible formatting characters.",
			[]string{"rename-" + first, "remove-password-" + first, "remove-password-" + second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post(tt.path, tt.form)
			if p.status < 400 {
				t.Fatalf("status %d, want a refusal\n%s", p.status, p.body)
			}
			tiedError(t, p.body, tt.input, tt.text)
			for _, id := range tt.others {
				if in := inputTag(p.body, id); in == "" || strings.Contains(in, "aria-invalid") {
					t.Errorf("the other form's input #%s: %q, want it there and not marked invalid", id, in)
				}
			}
			if name := tt.form.Get("name"); name != "" && !strings.Contains(inputTag(p.body, tt.input), `value="`+name+`"`) {
				t.Errorf("the refused name is not kept: %s", inputTag(p.body, tt.input))
			}
		})
	}
}

// inputTag is the input of id in body, "" for none.
func inputTag(body, id string) string {
	return regexp.MustCompile(`<input id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
}
