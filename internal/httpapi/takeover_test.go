package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/mail/mailtest"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// realMail sends the server's account mail to srv by SMTP, rendered as
// users get it, instead of to the test's mailbox.
func realMail(srv *mailtest.Server) []apptest.Option {
	var kv []string
	for _, setting := range srv.Settings() {
		name, value, _ := strings.Cut(setting, "=")
		kv = append(kv, name, value)
	}
	return []apptest.Option{apptest.Env(kv...), apptest.With(app.WithNotifier(nil))}
}

// The account-takeover findings of issue 17, each reproduced over HTTP on
// every store: the attack as it was run against the service, and what must
// now stop it.

func (s *server) updateMe(token, body string) response {
	s.t.Helper()
	return s.do(req{method: "PUT", path: "/api/v1/users/me", token: token, body: body})
}

// drainMail returns the mail that has arrived and not been read, oldest
// first.
func (s *server) drainMail() []usertest.Mail { return s.Mail.Unread() }

// TestStolenAccessTokenCannotTakeOverTheAccount (finding 1): with a stolen
// access token an attacker changed the email to their own, asked for a
// reset at it and set a password of theirs. Now: an old session cannot
// change the email without the password; a fresh one can, but the reset
// goes to the owner's trusted address, the owner is told with an undo link
// that restores the account, and the attacker's own reset link is refused.
func TestStolenAccessTokenCannotTakeOverTheAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		owner := newAccount()
		s.register(owner)
		verify := s.nextMail(usertest.MailVerify, owner.Email)
		if res := s.verify(verify.Token); res.Status != http.StatusOK {
			t.Fatalf("verify: %v", res)
		}
		stolen := s.token(owner.Username, owner.Password)
		const attacker = "attacker@evil.example"

		// An access token of a session whose login is not recent: refused.
		s.Clock.Advance(11 * time.Minute)
		res := s.updateMe(stolen, `{"email":"`+attacker+`"}`)
		body := wantProblem(t, res, http.StatusForbidden, "")
		if body["code"] != "reauthentication_required" {
			t.Fatalf("email change by an old session: code %v, want reauthentication_required", body["code"])
		}
		wantProblem(t, s.updateMe(stolen, `{"email":"`+attacker+`","current_password":"a wrong guess"}`), http.StatusBadRequest, "")
		if got := s.do(req{method: "GET", path: "/api/v1/users/me", token: stolen}).object(t)["email"]; got != owner.Email {
			t.Fatalf("email after the refused changes = %v, want %s", got, owner.Email)
		}

		// A session stolen right after its login can change the email...
		fresh := s.token(owner.Username, owner.Password)
		s.drainMail()
		if res := s.updateMe(fresh, `{"email":"`+attacker+`"}`); res.Status != http.StatusOK {
			t.Fatalf("email change by a fresh session: %v, want 200 (the design's contract)", res)
		}
		undo := s.nextMail(usertest.MailEmailChanged, owner.Email)
		// ...but the reset it asks for goes to the owner's trusted address.
		if res := s.requestReset(attacker, nil); res.Status != http.StatusAccepted {
			t.Fatalf("reset request: %v", res)
		}
		reset := s.nextMail(usertest.MailReset, owner.Email)
		for _, m := range s.Mail.All() {
			if m.Kind == usertest.MailReset && strings.EqualFold(m.To, attacker) {
				t.Fatalf("a reset link went to the attacker's unverified address: %+v", m)
			}
		}
		// The owner undoes the change: the address comes back, every session
		// ends, and the reset link from before is used up.
		if res := s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})}); res.Status != http.StatusNoContent {
			t.Fatalf("undo: %v, want 204", res)
		}
		for _, tok := range []string{stolen, fresh} {
			if got := s.me(tok); got != http.StatusUnauthorized {
				t.Errorf("a session after the undo: %d, want 401", got)
			}
		}
		wantProblem(t, s.confirmReset(reset.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: s.token(owner.Username, owner.Password)}).object(t)
		if me["email"] != owner.Email || me["email_verified"] != true {
			t.Errorf("after the undo: %v, want the owner's verified address back", me)
		}
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})}), http.StatusBadRequest, invalidToken)
	})
}

// TestReauthenticateAllowsSensitiveChanges: POST /reauthenticate renews an
// old session, which may then change the email and delete the account; a
// wrong password is refused and counts as a failed login.
func TestReauthenticateAllowsSensitiveChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a, token := s.signedUp()
		s.Clock.Advance(11 * time.Minute)
		if body := wantProblem(t, s.do(req{method: "DELETE", path: "/api/v1/users/me", token: token}), http.StatusForbidden, ""); body["code"] != "reauthentication_required" {
			t.Fatalf("delete by an old session: %v, want reauthentication_required", body["code"])
		}
		reauth := func(password string) response {
			return s.do(req{method: "POST", path: "/api/v1/reauthenticate", token: token, body: jsonBody(map[string]string{"password": password})})
		}
		wantProblem(t, reauth("not the password"), http.StatusBadRequest, "")
		if res := reauth(a.Password); res.Status != http.StatusNoContent {
			t.Fatalf("reauthenticate: %v, want 204", res)
		}
		if res := s.updateMe(token, `{"email":"renewed-`+a.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("email change after reauthenticating: %v", res)
		}
		if res := s.updateMe(token, `{"full_name":"No Password Needed"}`); res.Status != http.StatusOK {
			t.Errorf("name change by an old session: %v, want 200 (not sensitive)", res)
		}
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me", token: token}); res.Status != http.StatusNoContent {
			t.Errorf("delete after reauthenticating: %v, want 204", res)
		}
	})
}

// TestResetLinkDiesWithEmailAndPasswordChanges (finding 3): a link asked
// for the old address kept setting a password after the owner changed both
// email and password.
func TestResetLinkDiesWithEmailAndPasswordChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a, token := s.signedUp()
		s.drainMail()
		s.requestReset(a.Email, nil)
		beforeEmail := s.nextMail(usertest.MailReset, a.Email)
		if res := s.updateMe(token, `{"email":"moved-`+a.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("email change: %v", res)
		}
		wantProblem(t, s.confirmReset(beforeEmail.Token, "a new password here"), http.StatusBadRequest, invalidToken)

		b, tokenB := s.signedUp()
		s.drainMail()
		s.requestReset(b.Email, nil)
		beforePassword := s.nextMail(usertest.MailReset, b.Email)
		if res := s.do(req{method: "PUT", path: "/api/v1/users/me/password", token: tokenB,
			body: jsonBody(map[string]string{"current_password": b.Password, "new_password": "the owner's new one"})}); res.Status != http.StatusNoContent {
			t.Fatalf("password change: %v", res)
		}
		s.nextMail(usertest.MailPasswordChanged, b.Email)
		wantProblem(t, s.confirmReset(beforePassword.Token, "the attacker's password"), http.StatusBadRequest, invalidToken)
		s.token(b.Username, "the owner's new one")
	})
}

// TestRefreshWithinTheGraceMakesOneChain (finding 4): five concurrent
// refreshes with one token gave five independent live chains. Now each
// gets the same successor: one chain.
func TestRefreshWithinTheGraceMakesOneChain(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newSessionServer(t, kind)
		a := newAccount()
		s.register(a)
		p := s.login(a, nil)
		const racers = 5
		got := make([]string, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				res := s.refresh(p.refresh)
				if res.Status == http.StatusOK {
					var b struct {
						RefreshToken string `json:"refresh_token"`
					}
					_ = json.Unmarshal(res.Body, &b)
					got[i] = b.RefreshToken
				}
			})
		}
		wg.Wait()
		if got[0] == "" || slices.ContainsFunc(got, func(r string) bool { return r != got[0] }) {
			t.Fatalf("refresh tokens of %d concurrent refreshes = %q, want one and the same", racers, got)
		}
		// The one chain goes on; the used token is a reuse after the grace.
		next := s.wantPair(s.refresh(got[0]))
		s.Clock.Advance(grace + time.Second)
		s.wantInvalidGrant(p.refresh, "the first token after the grace")
		s.wantInvalidGrant(next.refresh, "the chain after its reuse was detected")
	})
}

// TestInvalidUTF8UserAgentIsAudited (finding 5): on PostgreSQL a
// User-Agent with invalid UTF-8 dropped audit events and made a successful
// login answer 500. Now the client text is cleaned before it is kept: the
// login succeeds and failed and successful logins are both recorded.
func TestInvalidUTF8UserAgentIsAudited(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a := newAccount()
		s.register(a)
		ua := http.Header{"User-Agent": {"evil\xff\xfe\x00agent\u202e\r\nX-Forged: 1"}}
		wrong := s.do(req{method: "POST", path: "/api/v1/token", body: "username=" + a.Username + "&password=wrong+password+1", contentType: "application/x-www-form-urlencoded", header: ua})
		wantProblem(t, wrong, http.StatusUnauthorized, "")
		ok := s.do(req{method: "POST", path: "/api/v1/token", body: "username=" + a.Username + "&password=" + strings.ReplaceAll(a.Password, " ", "+"), contentType: "application/x-www-form-urlencoded", header: ua})
		if ok.Status != http.StatusOK {
			t.Fatalf("login with that User-Agent: %v, want 200", ok)
		}
		token := ok.object(t)["access_token"].(string)
		page := s.do(req{method: "GET", path: "/api/v1/users/me/audit", token: token}).object(t)
		var kinds []string
		for _, e := range page["items"].([]any) {
			ev := e.(map[string]any)
			kinds = append(kinds, ev["kind"].(string))
			if ua, _ := ev["user_agent"].(string); !utf8.ValidString(ua) || strings.ContainsAny(ua, "\x00\r\n\u202e") {
				t.Errorf("stored user agent %q holds what was sent raw", ua)
			}
		}
		if !slices.Contains(kinds, "login.failed") || !slices.Contains(kinds, "login.succeeded") {
			t.Errorf("audit kinds %v, want the failed and the successful login", kinds)
		}
	})
}

// TestMailToAnUnverifiedAddressCarriesNoUserText (finding 6): the
// verification mail greeted the account's full_name (255 characters, URLs
// allowed), so PUT /users/me made the service relay an attacker's text
// under its own sender.
func TestMailToAnUnverifiedAddressCarriesNoUserText(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := mailtest.Start(t, mailtest.Options{})
		s := newServer(t, kind, realMail(srv)...)
		a, token := s.signedUp()
		const spam = "Cheap pills at https://spam.example"
		if res := s.updateMe(token, `{"full_name":"`+spam+`","email":"victim-`+a.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("update: %v", res)
		}
		for _, to := range []string{a.Email, "victim-" + a.Email} {
			m := srv.Wait(t, to)
			if strings.Contains(m.Text, "spam.example") || strings.Contains(m.HTML, "spam.example") || strings.Contains(m.Text, "Cheap pills") {
				t.Errorf("mail to %s carries the user's text:\n%s", to, m.Text)
			}
		}
	})
}

// TestFullNameRefusesHiddenCharacters (finding 7): bidi overrides,
// zero-width and line-separator characters reached mails and listings.
func TestFullNameRefusesHiddenCharacters(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, token := s.signedUp()
		for name, v := range map[string]string{
			"bidi override": "Ada \u202eecilA", "zero width space": "Ada\u200bLovelace", "zero width joiner": "Ada\u200dL",
			"line separator": "Ada\u2028L", "paragraph separator": "Ada\u2029L", "BOM": "\ufeffAda", "soft hyphen": "Ada\u00adL",
		} {
			b, _ := json.Marshal(map[string]string{"full_name": v})
			body := wantProblem(t, s.updateMe(token, string(b)), http.StatusUnprocessableEntity, "")
			if !strings.Contains(body["detail"].(string), "full_name") {
				t.Errorf("%s: detail %q does not name full_name", name, body["detail"])
			}
		}
		if res := s.updateMe(token, `{"full_name":"Zoë Åström-Núñez 李"}`); res.Status != http.StatusOK {
			t.Errorf("an ordinary non-ASCII name: %v, want 200", res)
		}
	})
}

// TestNamesRefuseHiddenCharacters: the other names people read (an
// OAuth client's on the consent page, a passkey's in its owner's security
// mails, a webhook's description in the console) took bidi overrides and
// zero-width characters, which reorder or hide the text around them, as
// the full name did before TestFullNameRefusesHiddenCharacters.
func TestNamesRefuseHiddenCharacters(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind, apptest.Env("USERSVC_WEBHOOK_ALLOW_PRIVATE", "on"))
		admin := s.adminToken()
		client := s.createClient(admin, `{"name":"CI","grant_types":["client_credentials"],"confidential":true}`)
		hook := s.createWebhook(admin, `{"url":"https://hooks.example.com/","types":["*"]}`)
		_, token := s.signedUp()
		key := s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), "Laptop")
		for name, v := range map[string]string{
			"bidi override": "Ada \u202eecilA", "zero width space": "Ada\u200bL", "line separator": "Ada\u2028L",
			"C1 control": "Ada\u0085L", "BOM": "\ufeffAda",
		} {
			for _, r := range []req{
				{method: "POST", path: "/api/v1/admin/clients", token: admin, body: `{"name":"` + v + `","grant_types":["client_credentials"],"confidential":true}`},
				{method: "PATCH", path: "/api/v1/admin/clients/" + client.ClientID, token: admin, body: `{"name":"` + v + `"}`},
				{method: "POST", path: "/api/v1/admin/webhooks", token: admin, body: `{"url":"https://hooks.example.com/","types":["*"],"description":"` + v + `"}`},
				{method: "PATCH", path: "/api/v1/admin/webhooks/" + hook.ID, token: admin, body: `{"description":"` + v + `"}`},
				{method: "PATCH", path: "/api/v1/users/me/passkeys/" + key["id"].(string), token: token, body: `{"name":"` + v + `"}`},
			} {
				if res := s.do(r); res.Status < 400 || res.Status >= 500 {
					t.Errorf("%s %s with a %s: %v, want a 4xx", r.method, r.path, name, res)
				}
			}
		}
		for _, r := range []req{
			{method: "PATCH", path: "/api/v1/admin/clients/" + client.ClientID, token: admin, body: `{"name":"Zoë's 李 app"}`},
			{method: "PATCH", path: "/api/v1/admin/webhooks/" + hook.ID, token: admin, body: `{"description":"Zoë's 李 hook"}`},
			{method: "PATCH", path: "/api/v1/users/me/passkeys/" + key["id"].(string), token: token, body: `{"name":"Zoë's 李 phone"}`},
		} {
			if res := s.do(r); res.Status != http.StatusOK {
				t.Errorf("%s %s with an ordinary non-ASCII name: %v, want 200", r.method, r.path, res)
			}
		}
	})
}

// TestUndoCannotBeBlockedByTakingTheOldAddress: a thief of a fresh session
// changed the email to their own, then registered a second account with the
// owner's old address (or moved an account of theirs to it), so that the
// undo link, which gives the old address back, failed with email_taken and
// the account stayed theirs. The old address stays the account's while its
// undo link is usable.
func TestUndoCannotBeBlockedByTakingTheOldAddress(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		owner, fresh := s.verifiedOwner()
		if res := s.updateMe(fresh, `{"email":"thief@evil.example"}`); res.Status != http.StatusOK {
			t.Fatalf("email change: %v", res)
		}
		undo := s.nextMail(usertest.MailEmailChanged, owner.Email)

		squatter := newAccount()
		squatter.Email = strings.ToUpper(owner.Email)
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/register", body: squatter.json()}), http.StatusBadRequest, "")
		other, otherToken := s.signedUp()
		wantProblem(t, s.updateMe(otherToken, `{"email":"`+owner.Email+`","current_password":"`+other.Password+`"}`), http.StatusBadRequest, "")

		if res := s.do(req{method: "POST", path: "/api/v1/email-change/undo", body: jsonBody(map[string]string{"token": undo.Token})}); res.Status != http.StatusNoContent {
			t.Fatalf("undo after the old address was claimed: %v, want 204", res)
		}
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: s.token(owner.Username, owner.Password)}).object(t)
		if me["email"] != owner.Email {
			t.Errorf("after the undo: email %v, want %s", me["email"], owner.Email)
		}
	})
}

// TestOldAddressIsFreeOnceItsUndoLinkIsNot: the old address is held only
// while the undo link can still be used: after it expires (or the account
// moves back to it itself) anyone may take it.
func TestOldAddressIsFreeOnceItsUndoLinkIsNot(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		owner, token := s.signedUp()
		if res := s.updateMe(token, `{"email":"moved-`+owner.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("email change: %v", res)
		}
		if res := s.updateMe(token, `{"email":"`+owner.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("moving back to its own old address: %v, want 200", res)
		}
		if res := s.updateMe(token, `{"email":"again-`+owner.Email+`"}`); res.Status != http.StatusOK {
			t.Fatalf("second email change: %v", res)
		}
		s.Clock.Advance(7*24*time.Hour + time.Minute)
		newcomer := newAccount()
		newcomer.Email = owner.Email
		s.register(newcomer)
	})
}
