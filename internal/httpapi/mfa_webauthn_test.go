package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/app"
	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/user"
)

// A passkey as the second factor of a password login through the API
// (issue 22): the mfa_required answer lists webauthn, the options route
// offers the account's passkeys for the mfa_token, and the grant
// urn:usersvc:params:oauth:grant-type:mfa-webauthn opens the session.

// webauthnStep asks the options of mfaToken's passkey step, has auth
// answer them, and posts the grant; it returns the grant's answer and
// its form.
func (s *server) webauthnStep(mfaToken string, auth *passkeytest.Authenticator, extra ...string) (response, url.Values) {
	s.t.Helper()
	body, err := json.Marshal(map[string]string{"mfa_token": mfaToken})
	if err != nil {
		s.t.Fatal(err)
	}
	ceremony, pk := s.passkeyOptions("/api/v1/mfa/webauthn/options", "", string(body))
	cred, err := auth.Get(pk)
	if err != nil {
		s.t.Fatal(err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		s.t.Fatal(err)
	}
	form := url.Values{
		"grant_type": {"urn:usersvc:params:oauth:grant-type:mfa-webauthn"},
		"mfa_token":  {mfaToken}, "ceremony": {ceremony}, "credential": {string(raw)},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType}), form
}

// TestPasskeyAsSecondFactor: once an account has a passkey, its password
// alone answers mfa_required listing webauthn; the passkey's assertion to
// the options of that mfa_token gives tokens with amr pwd, hwk, mfa. The
// same grant cannot be played again, another authenticator's assertion
// is a wrong code, and the options need a live mfa_token.
func TestPasskeyAsSecondFactor(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "Key")

		form := url.Values{"username": {a.Username}, "password": {a.Password}}
		res := s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
		body := wantOAuthError(t, res, http.StatusForbidden, "mfa_required", "")
		var methods []string
		for _, m := range body["methods"].([]any) {
			methods = append(methods, m.(string))
		}
		if !slices.Equal(methods, []string{"webauthn", "recovery_code"}) {
			t.Errorf("methods = %v, want [webauthn recovery_code]", methods)
		}
		mfaToken := body["mfa_token"].(string)

		res, used := s.webauthnStep(mfaToken, auth)
		if res.Status != http.StatusOK {
			t.Fatalf("mfa-webauthn grant: got %v, want 200", res)
		}
		wantAMR(t, res.object(t)["access_token"].(string), []string{"pwd", "hwk", "mfa"}, "urn:usersvc:acr:2fa")

		// The grant played again: the mfa_token is used up.
		again := s.do(req{method: "POST", path: "/api/v1/token", body: used.Encode(), contentType: formType})
		wantOAuthError(t, again, http.StatusBadRequest, "invalid_grant", "")

		// Another authenticator (a thief's) proves nothing.
		other := passkeytest.NewAuthenticator(passkeyOrigin)
		_, otherToken := s.signedUp()
		s.addPasskey(otherToken, other, "Thief's")
		res, _ = s.webauthnStep(s.mfaToken(a.Username, a.Password), other)
		wantOAuthError(t, res, http.StatusBadRequest, "invalid_grant", "")

		// Options need a live mfa_token.
		res = s.do(req{method: "POST", path: "/api/v1/mfa/webauthn/options", body: `{"mfa_token":"nope"}`})
		wantProblem(t, res, http.StatusBadRequest, "")
	})
}

// TestPasskeySecondFactorBoundToTheClient: the options and the grant of an
// mfa_token obtained by one client fail for another client_id.
func TestPasskeySecondFactorBoundToTheClient(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "Key")
		mfaToken := s.mfaToken(a.Username, a.Password, "client_id", "app-one")
		body, _ := json.Marshal(map[string]string{"mfa_token": mfaToken, "client_id": "app-two"})
		res := s.do(req{method: "POST", path: "/api/v1/mfa/webauthn/options", body: string(body)})
		wantProblem(t, res, http.StatusBadRequest, "")
		body, _ = json.Marshal(map[string]string{"mfa_token": mfaToken, "client_id": "app-one"})
		ceremony, pk := s.passkeyOptions("/api/v1/mfa/webauthn/options", "", string(body))
		cred, err := auth.Get(pk)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(cred)
		form := url.Values{
			"grant_type": {"urn:usersvc:params:oauth:grant-type:mfa-webauthn"}, "client_id": {"app-two"},
			"mfa_token": {mfaToken}, "ceremony": {ceremony}, "credential": {string(raw)},
		}
		res = s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
		wantOAuthError(t, res, http.StatusBadRequest, "invalid_grant", "")
		form.Set("client_id", "app-one")
		res = s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
		if res.Status != http.StatusOK {
			t.Errorf("the login's own client: got %v, want 200", res)
		}
	})
}

// TestRemovingTheLastPasskeyEndsItsRecoveryCodes: removing a passkey is
// removing a second factor, as removing the authenticator app is: the
// owner is mailed, and when no factor is left the recovery codes go too.
// Found by a review: they stayed, unseen (no factor asks for them), and
// came back to life with the next passkey, so a code read or kept by
// someone else long ago let them past the new one; and nobody was told.
func TestRemovingTheLastPasskeyEndsItsRecoveryCodes(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		id := s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), "Old")["id"].(string)
		res := s.do(req{method: "POST", path: "/api/v1/users/me/mfa/recovery-codes", token: token})
		if res.Status != http.StatusOK {
			t.Fatalf("recovery codes with a passkey: got %v, want 200", res)
		}
		old := res.object(t)["recovery_codes"].([]any)[0].(string)
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: token}); res.Status != http.StatusNoContent {
			t.Fatalf("remove the passkey: got %v, want 204", res)
		}
		if st := s.do(req{method: "GET", path: "/api/v1/users/me/mfa", token: token}).object(t); st["recovery_codes_left"] != float64(0) {
			t.Errorf("status without any factor: %v, want no recovery codes left", st)
		}
		s.nextMail(string(user.MailMFARemoved), a.Email)
		s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), "New")
		res = s.secondStep("mfa-recovery-code", s.mfaToken(a.Username, a.Password), "recovery_code", old)
		if b := wantOAuthError(t, res, http.StatusBadRequest, "invalid_grant", ""); b["code"] != "invalid_code" {
			t.Errorf("a recovery code of the removed passkey's time: code %v, want invalid_code", b["code"])
		}
	})
}

// nextEvent waits (bounded) for the next event of typ in sink.
func nextEvent(t *testing.T, sink eventSink, typ string) event.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-sink:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// mfaMethod is the method of e, a user.mfa_enabled or user.mfa_disabled.
func mfaMethod(t *testing.T, e event.Event) string {
	t.Helper()
	var d event.MFAData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("%s data %s: %v", e.Type, e.Data, err)
	}
	return d.Method
}

// TestPasskeysEmitTheMFAEvents: the first passkey of an account makes its
// password logins ask for a second factor, so it emits user.mfa_enabled
// (method webauthn), as confirming an authenticator app does; removing the
// last factor emits user.mfa_disabled. Found by a review: a receiver that
// follows who has a second factor never heard of passkeys.
func TestPasskeysEmitTheMFAEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		sink := make(eventSink, 64)
		s := newServer(t, kind, apptest.With(app.WithEventSink("test", sink)))
		_, token := s.signedUp()
		id := s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), "Key")["id"].(string)
		if e := nextEvent(t, sink, event.UserMFAEnabled); mfaMethod(t, e) != "webauthn" {
			t.Errorf("user.mfa_enabled data %s, want method webauthn", e.Data)
		}
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: token}); res.Status != http.StatusNoContent {
			t.Fatalf("remove the passkey: got %v, want 204", res)
		}
		if e := nextEvent(t, sink, event.UserMFADisabled); mfaMethod(t, e) != "webauthn" {
			t.Errorf("user.mfa_disabled data %s, want method webauthn", e.Data)
		}
	})
}

// TestAddedPasskeyIsMailedToTheOwner: a passkey signs in alone, without
// the password, and outlives a password change, so adding one mails the
// owner's trusted address (passkey_added), every one, not only the first.
// Found by a review: a thief of a fresh session could add their own
// passkey and keep the account after the owner changed the password,
// and the owner was never told.
func TestAddedPasskeyIsMailedToTheOwner(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		for _, name := range []string{"First", "Thief's"} {
			s.addPasskey(token, passkeytest.NewAuthenticator(passkeyOrigin), name)
			if m := s.nextMail(string(user.MailPasskeyAdded), a.Email); m.Token != "" {
				t.Errorf("the notice of passkey %q carries a token", name)
			}
		}
	})
}
