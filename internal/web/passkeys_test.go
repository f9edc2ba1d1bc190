package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
)

// passkeyOrigin is the relying party's origin in the tests: no public URL,
// development, USERSVC_ADDR's default port.
const passkeyOrigin = "http://localhost:8080"

// postJSON posts body to path as passkey.js does (same-origin JSON) and
// returns the answer.
func (b *browser) postJSON(path, body string) page {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// addPasskey adds a passkey of auth as passkey.js does, with the current
// password pw ("" for none).
func (b *browser) addPasskey(auth *passkeytest.Authenticator, pw string) page {
	b.t.Helper()
	start, _ := json.Marshal(map[string]string{"current_password": pw})
	p := b.postJSON("/account/passkeys/options", string(start))
	var o struct {
		Ceremony  string         `json:"ceremony"`
		PublicKey map[string]any `json:"public_key"`
	}
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &o) != nil {
		return p
	}
	cred, err := auth.Create(o.PublicKey)
	if err != nil {
		b.t.Fatal(err)
	}
	finish, _ := json.Marshal(map[string]any{"ceremony": o.Ceremony, "name": "Phone", "credential": cred})
	return b.postJSON("/account/passkeys", string(finish))
}

// Once the sign-in is older than the re-authentication window, adding or
// removing a passkey asks for the current password (as the authenticator
// app's page does), and the page has the field to give it in: the
// passkeys page used to answer "Enter your current password to make this
// change" with no such field anywhere, so a user who had lost a device
// could not remove its passkey without signing out and in again.
func TestPasskeyChangesAfterTheReauthWindowAskForThePassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSite(t, kind)
		s.account("ada")
		b := s.browser()
		b.signIn("ada", password, "/account")
		if p := b.addPasskey(passkeytest.NewAuthenticator(passkeyOrigin), ""); p.status != http.StatusCreated {
			t.Fatalf("add a passkey after signing in: %d\n%s", p.status, p.body)
		}
		s.Clock.Advance(11 * time.Minute)
		p := b.get("/account/passkeys")
		remove := regexp.MustCompile(`(?s)<form method="post" action="(/account/passkeys/[^"]+/remove)">.*?</form>`).FindStringSubmatch(p.body)
		if remove == nil {
			t.Fatalf("no remove form on\n%s", p.body)
		}
		add := p.body[strings.Index(p.body, `data-passkey="add"`):]
		for what, html := range map[string]string{"the remove form": remove[0], "the add box": add} {
			if !regexp.MustCompile(`<input id="[^"]+" name="current_password" type="password" autocomplete="current-password"`).MatchString(html) {
				t.Errorf("%s has no current password field:\n%s", what, html)
			}
		}
		if p := b.addPasskey(passkeytest.NewAuthenticator(passkeyOrigin), "wrong"); p.status != http.StatusUnauthorized {
			t.Errorf("add with a wrong password: %d, want 401\n%s", p.status, p.body)
		}
		if p := b.addPasskey(passkeytest.NewAuthenticator(passkeyOrigin), password); p.status != http.StatusCreated {
			t.Errorf("add with the current password: %d, want 201\n%s", p.status, p.body)
		}
		s.Clock.Advance(11 * time.Minute)
		p = b.post(remove[1], url.Values{"current_password": {password}})
		if p.status != http.StatusSeeOther || p.location() != "/account/passkeys?notice=passkey_removed" {
			t.Errorf("remove with the current password: %d to %q\n%s", p.status, p.location(), p.body)
		}
	})
}
