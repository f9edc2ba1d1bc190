package httpapi_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// holdingsExport is the part of an export this file checks: the passkeys,
// email changes and apps, each as the raw object the client got.
type holdingsExport struct {
	Passkeys     []map[string]any `json:"passkeys"`
	EmailChanges []map[string]any `json:"email_changes"`
	PendingLinks []map[string]any `json:"pending_links"`
	AppConsents  []map[string]any `json:"app_consents"`
	AppGrants    []map[string]any `json:"app_grants"`
}

// exportOf downloads the export of the account of token.
func (s *server) exportOf(token string) (holdingsExport, string) {
	s.t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/export", token: token})
	if res.Status != http.StatusOK {
		s.t.Fatalf("export: %v", res)
	}
	var x holdingsExport
	if err := json.Unmarshal(res.Body, &x); err != nil {
		s.t.Fatalf("export body %s: %v", res.Body, err)
	}
	return x, string(res.Body)
}

// passkeyToken signs in with auth (the undo ended every session; the
// passkey is the account's second factor) and returns the access token.
func (s *server) passkeyToken(auth *passkeytest.Authenticator) string {
	s.t.Helper()
	res, _ := s.passkeySignIn(auth)
	if res.Status != http.StatusOK {
		s.t.Fatalf("passkey sign-in: %v", res)
	}
	return res.object(s.t)["access_token"].(string)
}

// wantOnePasskey checks that x holds one passkey, name, as the test
// authenticator registers it, used to sign in or not, and nothing of the
// key itself.
func wantOnePasskey(t *testing.T, x holdingsExport, name string, used bool) {
	t.Helper()
	if len(x.Passkeys) != 1 || x.Passkeys[0]["name"] != name || x.Passkeys[0]["kind"] != "hwk" {
		t.Fatalf("export passkeys: %v, want the one named %q", x.Passkeys, name)
	}
	p := x.Passkeys[0]
	wantKeys := []string{"aaguid", "created_at", "id", "kind", "last_used_at", "name", "transports"}
	if got := keysOf(p); !slices.Equal(got, wantKeys) {
		t.Errorf("passkey fields %v, want %v (nothing of the key itself)", got, wantKeys)
	}
	if p["aaguid"] != nil || (p["last_used_at"] != nil) != used || !slices.Equal(p["transports"].([]any), []any{"internal"}) {
		t.Errorf("passkey: %v, want no aaguid (the authenticator gave none), used %v, transports [internal]", p, used)
	}
}

// keysOf are the sorted field names of o.
func keysOf(o map[string]any) []string { return slices.Sorted(maps.Keys(o)) }

// TestExportHoldsPasskeysAndEmailChanges: the data export (GDPR Art. 15)
// left out the account's passkeys and its email-change history. Each
// account's export now has its own, with the fields a person can read and
// nothing secret (no public key, no undo token or hash), and never
// another account's.
func TestExportHoldsPasskeysAndEmailChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		ada, adaToken := s.signedUp()
		bob, bobToken := s.signedUp()
		adaKey, bobKey := passkeytest.NewAuthenticator(passkeyOrigin), passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(adaToken, adaKey, "Ada's laptop")
		s.addPasskey(bobToken, bobKey, "Bob's phone")
		const adaNew, bobNew = "ada.new@example.com", "bob.new@example.com"
		for _, c := range []struct{ token, email string }{{adaToken, adaNew}, {bobToken, bobNew}} {
			if res := s.updateMe(c.token, `{"email":"`+c.email+`"}`); res.Status != http.StatusOK {
				t.Fatalf("email change: %v", res)
			}
		}
		undo := s.nextMail(usertest.MailEmailChanged, ada.Email)

		x, body := s.exportOf(adaToken)
		wantOnePasskey(t, x, "Ada's laptop", false)
		if len(x.EmailChanges) != 1 {
			t.Fatalf("ada's export email changes: %v, want her one change", x.EmailChanges)
		}
		c := x.EmailChanges[0]
		wantKeys := []string{"changed_at", "expires_at", "new_email", "old_email", "state", "used_at"}
		if got := keysOf(c); !slices.Equal(got, wantKeys) {
			t.Errorf("email change fields %v, want %v (no token, no hash)", got, wantKeys)
		}
		if c["old_email"] != ada.Email || c["new_email"] != adaNew || c["state"] != "undoable" || c["used_at"] != nil {
			t.Errorf("email change: %v, want %s to %s, undoable", c, ada.Email, adaNew)
		}
		for _, theirs := range []string{bob.Email, bobNew, "Bob's phone"} {
			if strings.Contains(body, theirs) {
				t.Errorf("ada's export holds bob's %q", theirs)
			}
		}

		// Undone, the change says so; bob's export has only his.
		if res := s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})}); res.Status != http.StatusNoContent {
			t.Fatalf("undo: %v", res)
		}
		x, _ = s.exportOf(s.passkeyToken(adaKey))
		if len(x.EmailChanges) != 1 || x.EmailChanges[0]["state"] != "used" || x.EmailChanges[0]["used_at"] == nil {
			t.Errorf("after the undo: %v, want the change used", x.EmailChanges)
		}
		s.Clock.Advance(8 * 24 * time.Hour) // past the undo link's lifetime
		x, body = s.exportOf(s.passkeyToken(bobKey))
		wantOnePasskey(t, x, "Bob's phone", true) // he signed in with it
		if len(x.EmailChanges) != 1 || x.EmailChanges[0]["state"] != "expired" {
			t.Errorf("bob's email changes %v; want his change, expired", x.EmailChanges)
		}
		if strings.Contains(body, "Ada's laptop") || strings.Contains(body, adaNew) {
			t.Error("bob's export holds ada's records")
		}
		if len(x.AppConsents) != 0 || len(x.AppGrants) != 0 || x.AppConsents == nil || x.AppGrants == nil {
			t.Errorf("app consents %v, grants %v; want empty lists", x.AppConsents, x.AppGrants)
		}
	})
}

// TestExportHoldsSecondFactors: the export said nothing of the account's
// second factors, though the service keeps them: whether an authenticator
// app is set up and how many recovery codes are left, as GET
// /users/me/mfa says it (never the secret or a code).
func TestExportHoldsSecondFactors(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, adaToken := s.signedUp()
		_, bobToken := s.signedUp()
		secret, codes := s.enrolTOTP(adaToken)
		type factors struct {
			SecondFactors map[string]any `json:"second_factors"`
		}
		for _, c := range []struct {
			token string
			want  string
		}{
			{adaToken, `{"methods":["otp","recovery_code"],"recovery_codes_left":10,"totp":"enabled"}`},
			{bobToken, `{"methods":[],"recovery_codes_left":0,"totp":"none"}`},
		} {
			res := s.do(req{method: "GET", path: "/api/v1/users/me/export", token: c.token})
			x := decode[factors](t, res, http.StatusOK)
			if got, _ := json.Marshal(x.SecondFactors); string(got) != c.want {
				t.Errorf("second_factors %s, want %s", got, c.want)
			}
			if strings.Contains(string(res.Body), secret) || strings.Contains(string(res.Body), codes[0]) {
				t.Error("the export holds the authenticator's secret or a recovery code")
			}
		}
	})
}

// TestExportSessionsNameTheirClient: the export listed each session
// without the client its login named, which the service keeps (and which
// alone may refresh it): a person could not tell which application holds
// a session. Each session now says its client_id, null for a login that
// named none (the first-party frontend).
func TestExportSessionsNameTheirClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		form := url.Values{"username": {a.Username}, "password": {a.Password}, "client_id": {"app-a"}}
		if res := s.do(req{method: "POST", path: tokenPath, body: form.Encode(), contentType: formType}); res.Status != http.StatusOK {
			t.Fatalf("login by app-a: %v", res)
		}
		res := s.do(req{method: "GET", path: "/api/v1/users/me/export", token: token})
		if res.Status != http.StatusOK {
			t.Fatalf("export: %v", res)
		}
		var x struct {
			Sessions []map[string]any `json:"sessions"`
		}
		if err := json.Unmarshal(res.Body, &x); err != nil {
			t.Fatalf("export body %s: %v", res.Body, err)
		}
		if len(x.Sessions) != 2 {
			t.Fatalf("export sessions: %v, want two", x.Sessions)
		}
		for i, want := range []any{nil, "app-a"} {
			got, ok := x.Sessions[i]["client_id"]
			if !ok || got != want {
				t.Errorf("session %d: client_id %v (present %t), want %v", i, got, ok, want)
			}
		}
	})
}

// linkKinds are the kinds of x's pending links, in order.
func linkKinds(x holdingsExport) []any {
	kinds := []any{}
	for _, l := range x.PendingLinks {
		kinds = append(kinds, l["kind"])
	}
	return kinds
}

// TestExportHoldsPendingMailedLinks: the export said nothing of the links
// mailed to the account that still work (a verification, a password
// reset), though the service keeps them. It now lists each live one,
// its kind and when it was mailed and ends, never its token or hash; a
// link the account's changes made dead (a reset link after a password
// change, a verification link to a former address) is not listed.
func TestExportHoldsPendingMailedLinks(t *testing.T) {
	for _, kind := range append(stores(), apptest.Memory) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, kind)
			ada, adaToken := s.signedUp()
			_, bobToken := s.signedUp()
			verify := s.nextMail(usertest.MailVerify, ada.Email)
			s.Clock.Advance(time.Minute)
			if res := s.requestReset(ada.Email, nil); res.Status != http.StatusAccepted {
				t.Fatalf("reset request: %v", res)
			}
			reset := s.nextMail(usertest.MailReset, ada.Email)

			x, body := s.exportOf(adaToken)
			if got := linkKinds(x); !slices.Equal(got, []any{"verify_email", "reset_password"}) {
				t.Fatalf("ada's pending links %v, want her verification then her reset link", x.PendingLinks)
			}
			for _, l := range x.PendingLinks {
				if got, want := keysOf(l), []string{"created_at", "expires_at", "kind"}; !slices.Equal(got, want) {
					t.Errorf("pending link fields %v, want %v (no token, no hash)", got, want)
				}
				if l["expires_at"].(string) <= l["created_at"].(string) {
					t.Errorf("pending link %v ends before it starts", l)
				}
			}
			for _, tok := range []string{verify.Token, reset.Token} {
				h := sha256.Sum256([]byte(tok))
				for _, secret := range []string{tok, hex.EncodeToString(h[:]), base64.StdEncoding.EncodeToString(h[:]), base64.RawURLEncoding.EncodeToString(h[:])} {
					if strings.Contains(body, secret) {
						t.Errorf("the export holds a mailed link's token or hash %q", secret)
					}
				}
			}
			if y, _ := s.exportOf(bobToken); !slices.Equal(linkKinds(y), []any{"verify_email"}) {
				t.Errorf("bob's pending links %v, want only his verification", y.PendingLinks)
			}

			// A password change makes the reset link dead: no longer listed.
			const newPassword = "a brand new password 7"
			if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: adaToken,
				body: jsonBody(map[string]string{"current_password": ada.Password, "new_password": newPassword})}); res.Status != http.StatusNoContent {
				t.Fatalf("password change: %v", res)
			}
			adaToken = s.token(ada.Username, newPassword)
			first := x.PendingLinks[0]["created_at"]
			if x, _ = s.exportOf(adaToken); !slices.Equal(linkKinds(x), []any{"verify_email"}) || x.PendingLinks[0]["created_at"] != first {
				t.Errorf("after the password change: pending links %v, want the verification only", x.PendingLinks)
			}
			// An email change makes the verification link to the former
			// address dead: only the new address's is listed.
			s.Clock.Advance(time.Minute)
			const newEmail = "ada.moved@example.com"
			if res := s.updateMe(adaToken, `{"email":"`+newEmail+`"}`); res.Status != http.StatusOK {
				t.Fatalf("email change: %v", res)
			}
			again := s.nextMail(usertest.MailVerify, newEmail)
			if x, _ = s.exportOf(adaToken); !slices.Equal(linkKinds(x), []any{"verify_email"}) || x.PendingLinks[0]["created_at"] == first {
				t.Errorf("after the email change: pending links %v, want only the new address's verification", x.PendingLinks)
			}
			// Once used, the verification link is gone too; an empty list is [].
			if res := s.verify(again.Token); res.Status != http.StatusOK {
				t.Fatalf("verify: %v", res)
			}
			if x, _ = s.exportOf(adaToken); x.PendingLinks == nil || len(x.PendingLinks) != 0 {
				t.Errorf("after the verification: pending links %v, want []", x.PendingLinks)
			}
		})
	}
}
