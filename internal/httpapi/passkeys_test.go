package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
)

// passkeyOrigin is the relying party's origin in the tests: no public URL,
// development, USERSVC_ADDR's default port.
const passkeyOrigin = "http://localhost:8080"

// options calls a ceremony's options route and returns its handle and
// public key options.
func (s *server) passkeyOptions(path, token, body string) (string, map[string]any) {
	s.t.Helper()
	if body == "" {
		body = "{}"
	}
	res := s.do(req{method: "POST", path: path, body: body, token: token})
	if res.Status != http.StatusOK {
		s.t.Fatalf("POST %s: got %v, want 200", path, res)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		s.t.Errorf("POST %s: Cache-Control %q, want no-store", path, cc)
	}
	o := res.object(s.t)
	return o["ceremony"].(string), o["public_key"].(map[string]any)
}

// verifyBody is a verify route's body.
func verifyBody(t *testing.T, ceremony string, credential map[string]any, extra ...string) string {
	t.Helper()
	m := map[string]any{"ceremony": ceremony, "credential": credential}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// addPasskey registers a passkey of auth to the account of token and
// returns it as the API answered.
func (s *server) addPasskey(token string, auth *passkeytest.Authenticator, name string) map[string]any {
	s.t.Helper()
	ceremony, pk := s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, "")
	cred, err := auth.Create(pk)
	if err != nil {
		s.t.Fatal(err)
	}
	res := s.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/verify", token: token, body: verifyBody(s.t, ceremony, cred, "name", name)})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("register verify: got %v, want 201", res)
	}
	return res.object(s.t)
}

// passkeySignIn runs a usernameless sign-in with auth and returns the
// verify answer and the body it sent.
func (s *server) passkeySignIn(auth *passkeytest.Authenticator) (response, string) {
	s.t.Helper()
	ceremony, pk := s.passkeyOptions("/api/v1/passkeys/login/options", "", "")
	if _, ok := pk["allowCredentials"]; ok {
		s.t.Errorf("usernameless options name credentials: %v", pk["allowCredentials"])
	}
	cred, err := auth.Get(pk)
	if err != nil {
		s.t.Fatal(err)
	}
	body := verifyBody(s.t, ceremony, cred)
	return s.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: body}), body
}

// myAuditKinds are the kinds of the account's audit events, newest first.
func (s *server) myAuditKinds(token string) []string {
	s.t.Helper()
	res := s.do(req{method: "GET", path: "/api/v1/users/me/audit?limit=100", token: token})
	if res.Status != http.StatusOK {
		s.t.Fatalf("my audit: %v", res)
	}
	var page struct {
		Items []struct {
			Kind   string            `json:"kind"`
			Detail map[string]string `json:"detail"`
		} `json:"items"`
	}
	if err := json.Unmarshal(res.Body, &page); err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		k := e.Kind
		if m := e.Detail["method"]; m != "" {
			k += "/" + m + "/" + e.Detail["amr"]
		}
		out = append(out, k)
	}
	return out
}

// TestPasskeySignInWithoutPassword: a passkey added by a signed-in
// account signs it in later without a username or password, with the
// tokens of /token; list, rename and remove manage it (issue 22).
func TestPasskeySignInWithoutPassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		added := s.addPasskey(token, auth, "Laptop")
		if added["name"] != "Laptop" || added["kind"] != "hwk" {
			t.Errorf("added passkey = %v, want name Laptop, kind hwk (not backup eligible)", added)
		}
		res, _ := s.passkeySignIn(auth)
		if res.Status != http.StatusOK {
			t.Fatalf("passkey sign-in: got %v, want 200", res)
		}
		body := res.object(t)
		if body["token_type"] != "bearer" || body["refresh_token"] == "" || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("sign-in answer %v lacks the /token shape", res)
		}
		fresh := body["access_token"].(string)
		if c := claims(t, fresh); fmt.Sprint(c["amr"]) != "[hwk mfa]" || c["acr"] != "urn:usersvc:acr:2fa" {
			t.Errorf("passkey token amr %v acr %v, want [hwk mfa] and the two-factor acr", c["amr"], c["acr"])
		}
		me := s.do(req{method: "GET", path: "/api/v1/users/me", token: fresh})
		if me.Status != http.StatusOK || me.object(t)["username"] != a.Username {
			t.Fatalf("/users/me with the passkey's token: %v", me)
		}
		// The refresh token works as a password login's does.
		refresh := s.do(req{method: "POST", path: "/api/v1/token", contentType: formType,
			body: "grant_type=refresh_token&refresh_token=" + body["refresh_token"].(string)})
		if refresh.Status != http.StatusOK {
			t.Errorf("refresh of a passkey session: %v", refresh)
		}
		kinds := s.myAuditKinds(fresh)
		for _, want := range []string{"login.succeeded/passkey/hwk mfa", "passkey.registered"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("audit %v lacks %s", kinds, want)
			}
		}

		list := s.do(req{method: "GET", path: "/api/v1/users/me/passkeys", token: fresh})
		var keys []map[string]any
		if err := json.Unmarshal(list.Body, &keys); err != nil || len(keys) != 1 || keys[0]["last_used_at"] == nil {
			t.Fatalf("list: %v, want the one passkey, used", list)
		}
		id := keys[0]["id"].(string)
		renamed := s.do(req{method: "PATCH", path: "/api/v1/users/me/passkeys/" + id, token: fresh, body: `{"name":"Work laptop"}`})
		if renamed.Status != http.StatusOK || renamed.object(t)["name"] != "Work laptop" {
			t.Errorf("rename: %v", renamed)
		}
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: fresh}); res.Status != http.StatusNoContent {
			t.Fatalf("remove: %v", res)
		}
		res, _ = s.passkeySignIn(auth)
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")
	})
}

// TestPasskeyReplayRefused: an attacker who captured a sign-in's verify
// request (ceremony and assertion) cannot play it again, nor the
// assertion against a ceremony of their own, nor finish a ceremony after
// it expired.
func TestPasskeyReplayRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "")
		res, captured := s.passkeySignIn(auth)
		if res.Status != http.StatusOK {
			t.Fatalf("sign-in: %v", res)
		}
		replay := s.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: captured})
		wantProblem(t, replay, http.StatusBadRequest, "unknown, expired or used ceremony: begin again")

		// The captured assertion under a new ceremony: its challenge is
		// not the new one.
		var old struct {
			Credential map[string]any `json:"credential"`
		}
		if err := json.Unmarshal([]byte(captured), &old); err != nil {
			t.Fatal(err)
		}
		ceremony, _ := s.passkeyOptions("/api/v1/passkeys/login/options", "", "")
		res = s.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: verifyBody(t, ceremony, old.Credential)})
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")

		// A ceremony past its five minutes.
		ceremony, pk := s.passkeyOptions("/api/v1/passkeys/login/options", "", "")
		cred, err := auth.Get(pk)
		if err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(5*time.Minute + time.Second)
		res = s.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: verifyBody(t, ceremony, cred)})
		wantProblem(t, res, http.StatusBadRequest, "unknown, expired or used ceremony: begin again")
	})
}

// TestPasskeyCloneRefused: an assertion whose signature counter does not
// move past the stored one (a cloned authenticator) signs nobody in and
// is audited.
func TestPasskeyCloneRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "")
		for range 2 {
			if res, _ := s.passkeySignIn(auth); res.Status != http.StatusOK {
				t.Fatalf("sign-in: %v", res)
			}
		}
		auth.Counter = 0 // the clone's counter, behind the original's 2
		res, _ := s.passkeySignIn(auth)
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")
		if kinds := s.myAuditKinds(token); !slices.Contains(kinds, "passkey.clone_suspected") {
			t.Errorf("audit %v lacks passkey.clone_suspected", kinds)
		}
	})
}

// TestPasskeyChangesNeedRecentAuthentication: a stolen access token alone
// adds no passkey and removes none: past the re-authentication window
// both need the password again (attack test, issue 17 and 22).
func TestPasskeyChangesNeedRecentAuthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		id := s.addPasskey(token, auth, "")["id"].(string)
		s.Clock.Advance(11 * time.Minute)

		res := s.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/options", token: token, body: "{}"})
		wantProblem(t, res, http.StatusForbidden, "")
		if code := res.object(t)["code"]; code != "reauthentication_required" {
			t.Errorf("code %v, want reauthentication_required", code)
		}
		res = s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: token})
		wantProblem(t, res, http.StatusForbidden, "")

		res = s.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/options", token: token, body: `{"current_password":"wrong password here"}`})
		wantProblem(t, res, http.StatusBadRequest, "")
		s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, `{"current_password":"`+a.Password+`"}`)
		// That renewed the session's authentication: removing works now.
		if res := s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: token}); res.Status != http.StatusNoContent {
			t.Errorf("remove after re-authentication: %v", res)
		}
	})
}

// TestPasskeyCeremonyBoundToItsSession: a registration begun by one
// session cannot be finished by another (another account's, or another
// of the same account), so a ceremony handle that leaks adds nothing; and
// a passkey is only its owner's to rename or remove.
func TestPasskeyCeremonyBoundToItsSession(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		other := s.token(a.Username, a.Password)
		_, mallory := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		for _, thief := range []string{other, mallory} {
			ceremony, pk := s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, "")
			cred, err := auth.Create(pk)
			if err != nil {
				t.Fatal(err)
			}
			res := s.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/verify", token: thief, body: verifyBody(t, ceremony, cred)})
			wantProblem(t, res, http.StatusBadRequest, "unknown, expired or used ceremony: begin again")
		}
		id := s.addPasskey(token, auth, "")["id"].(string)
		res := s.do(req{method: "PATCH", path: "/api/v1/users/me/passkeys/" + id, token: mallory, body: `{"name":"mine"}`})
		wantProblem(t, res, http.StatusNotFound, "")
		res = s.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + id, token: mallory})
		wantProblem(t, res, http.StatusNotFound, "")
		// The same authenticator's credential again: excluded by the
		// options, and refused should a client ignore that.
		ceremony, pk := s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, "")
		if ex, _ := pk["excludeCredentials"].([]any); len(ex) != 1 {
			t.Errorf("excludeCredentials = %v, want the registered one", pk["excludeCredentials"])
		}
		_ = ceremony
	})
}

// TestPasskeyWrongOriginRefused: a phishing page on another origin that
// relays the ceremony gets an assertion the service refuses.
func TestPasskeyWrongOriginRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		_, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "")
		auth.Origin = "http://localhost.evil.example:8080"
		res, _ := s.passkeySignIn(auth)
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")
		auth.Origin, auth.RPID = passkeyOrigin, "evil.example"
		res, _ = s.passkeySignIn(auth)
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")
	})
}

// TestPasskeySyncedIsSoftwareKey: a backup-eligible (synced) passkey
// signs in with amr swk.
func TestPasskeySyncedIsSoftwareKey(t *testing.T) {
	s := newServer(t, stores()[0])
	_, token := s.signedUp()
	auth := passkeytest.NewAuthenticator(passkeyOrigin)
	auth.BackupEligible = true
	if got := s.addPasskey(token, auth, "Phone")["kind"]; got != "swk" {
		t.Errorf("kind %v, want swk", got)
	}
	res, _ := s.passkeySignIn(auth)
	if res.Status != http.StatusOK {
		t.Fatalf("sign-in: %v", res)
	}
	if kinds := s.myAuditKinds(token); !slices.Contains(kinds, "login.succeeded/passkey/swk mfa") {
		t.Errorf("audit %v lacks the swk login", kinds)
	}
}

// TestPasskeyWithoutUserVerification: a passkey signs in alone (two
// factors in one) only when the authenticator verified its user (a PIN,
// a biometric): a response with user presence only is refused, when the
// passkey is added and when it signs in; as the second step after a
// password it may be presence only.
func TestPasskeyWithoutUserVerification(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, token := s.signedUp()
		auth := passkeytest.NewAuthenticator(passkeyOrigin)
		auth.Unverified = true
		ceremony, pk := s.passkeyOptions("/api/v1/users/me/passkeys/register/options", token, "")
		cred, err := auth.Create(pk)
		if err != nil {
			t.Fatal(err)
		}
		res := s.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/verify", token: token, body: verifyBody(t, ceremony, cred)})
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")

		auth = passkeytest.NewAuthenticator(passkeyOrigin)
		s.addPasskey(token, auth, "Key")
		auth.Unverified = true
		res, _ = s.passkeySignIn(auth)
		wantProblem(t, res, http.StatusBadRequest, "the passkey response could not be verified")

		mfa := s.mfaToken(a.Username, a.Password)
		ceremony, pk = s.passkeyOptions("/api/v1/mfa/webauthn/options", "", `{"mfa_token":"`+mfa+`"}`)
		assertion, err := auth.Get(pk)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(assertion)
		form := url.Values{"grant_type": {"urn:usersvc:params:oauth:grant-type:mfa-webauthn"}, "mfa_token": {mfa}, "ceremony": {ceremony}, "credential": {string(raw)}}
		if res := s.do(req{method: "POST", path: "/api/v1/token", contentType: formType, body: form.Encode()}); res.Status != http.StatusOK {
			t.Errorf("the second step with user presence only: %v, want 200", res)
		}
	})
}
