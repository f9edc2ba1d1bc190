package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// newLifecycleServer is a server whose passwords need 10 characters, with
// the given variables.
func newLifecycleServer(t *testing.T, kind string, opts ...apptest.Option) *server {
	t.Helper()
	return newServer(t, kind, append([]apptest.Option{apptest.Env("USERSVC_PASSWORD_MIN_LENGTH", "10")}, opts...)...)
}

// verifiedOwner registers an account, verifies its address and signs it
// in: the owner of the takeover tests, with a fresh session (what a thief
// of it holds) and no mail left in the box.
func (s *server) verifiedOwner() (account, string) {
	s.t.Helper()
	owner := newAccount()
	s.register(owner)
	if res := s.verify(s.nextMail(usertest.MailVerify, owner.Email).Token); res.Status != http.StatusOK {
		s.t.Fatalf("verify: %v", res)
	}
	fresh := s.token(owner.Username, owner.Password)
	s.drainMail()
	return owner, fresh
}

func jsonBody(v map[string]string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *server) verify(token string) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/verify-email", body: jsonBody(map[string]string{"token": token})})
}

func (s *server) requestReset(email string, header http.Header) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/password-reset", body: jsonBody(map[string]string{"email": email}), header: header})
}

func (s *server) confirmReset(token, password string) response {
	s.t.Helper()
	return s.do(req{method: "POST", path: "/api/v1/password-reset/confirm", body: jsonBody(map[string]string{"token": token, "new_password": password})})
}

const invalidToken = "the token is invalid, expired or already used: ask for a new one"

func TestVerifyEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a := newAccount()
		if got := s.register(a); got["email_verified"] != false {
			t.Errorf("register: email_verified = %v, want false", got["email_verified"])
		}
		m := s.nextMail(usertest.MailVerify, a.Email)
		res := s.verify(m.Token)
		if res.Status != http.StatusOK || res.object(t)["email_verified"] != true || res.object(t)["email"] != a.Email {
			t.Fatalf("verify-email: got %v, want 200 and a verified UserRead", res)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		token := s.token(a.Username, a.Password)
		if me := s.do(req{method: "GET", path: "/api/v1/users/me", token: token}); me.object(t)["email_verified"] != true {
			t.Errorf("GET /users/me after verifying: %v, want email_verified true", me)
		}
		wantProblem(t, s.verify(m.Token), http.StatusBadRequest, invalidToken)
		wantProblem(t, s.verify("not-a-token"), http.StatusBadRequest, invalidToken)
		missing := wantProblem(t, s.do(req{method: "POST", path: "/api/v1/verify-email", body: `{}`}), http.StatusUnprocessableEntity, "")
		if !strings.Contains(missing["detail"].(string), "token") {
			t.Errorf("detail %q does not name the token", missing["detail"])
		}
		long := strings.Repeat("s3cret", 30)
		if res := s.verify(long); res.Status != http.StatusUnprocessableEntity || strings.Contains(string(res.Body), long) {
			t.Errorf("verify-email with a 180-character token: got %v, want 422 that does not echo it", res)
		}

		// Expiry, on the service's clock.
		b := newAccount()
		s.register(b)
		late := s.nextMail(usertest.MailVerify, b.Email)
		s.Clock.Advance(user.DefaultLifecyclePolicy.VerifyTTL)
		wantProblem(t, s.verify(late.Token), http.StatusBadRequest, invalidToken)
	})
}

func TestEmailChangeResetsVerification(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a, token := s.signedUp()
		first := s.nextMail(usertest.MailVerify, a.Email)
		if res := s.verify(first.Token); res.Status != http.StatusOK {
			t.Fatalf("verify: %v", res)
		}
		// A second link, still unused, to the first address.
		second, _, err := s.App.Service().Authenticate(t.Context(), token)
		if err != nil {
			t.Fatal(err)
		}
		second.EmailVerified = false // as if asked before verifying
		if err := s.App.Service().ResendVerification(t.Context(), second); err != nil {
			t.Fatal(err)
		}
		stale := s.nextMail(usertest.MailVerify, a.Email)

		res := s.do(req{method: "PUT", path: "/api/v1/users/me", token: token, body: `{"email": "moved-` + a.Email + `"}`})
		if res.Status != http.StatusOK || res.object(t)["email_verified"] != false {
			t.Fatalf("PUT /users/me email: got %v, want 200 and email_verified false", res)
		}
		s.nextMail(usertest.MailEmailChanged, a.Email) // the previous address is told first
		fresh := s.nextMail(usertest.MailVerify, "moved-"+a.Email)
		wantProblem(t, s.verify(stale.Token), http.StatusBadRequest, invalidToken)
		if res := s.verify(fresh.Token); res.Status != http.StatusOK || res.object(t)["email_verified"] != true {
			t.Errorf("verify with the new address's token: got %v, want 200 verified", res)
		}
	})
}

func TestResendVerification(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind, limitsOn("USERSVC_RATE_LIMIT_MAIL", "100/1h", "USERSVC_RATE_LIMIT_MAIL_RECIPIENT", "2/1h"))
		a, token := s.signedUp()
		s.nextMail(usertest.MailVerify, a.Email)
		resend := req{method: "POST", path: "/api/v1/verify-email/resend", token: token}
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/verify-email/resend"}), http.StatusUnauthorized, "")
		res := s.do(resend)
		if res.Status != http.StatusAccepted || res.object(t)["detail"] != "We have sent a new verification link to your email address." {
			t.Fatalf("resend: got %v, want 202 with the detail", res)
		}
		m := s.nextMail(usertest.MailVerify, a.Email)
		if res := s.do(resend); res.Status != http.StatusAccepted {
			t.Fatalf("second resend: got %v, want 202", res)
		}
		s.nextMail(usertest.MailVerify, a.Email)
		wantRecipient429(t, s.do(resend))
		if res := s.verify(m.Token); res.Status != http.StatusOK {
			t.Fatalf("verify with a resent token: %v", res)
		}

		b, tokenB := s.signedUp()
		s.nextMail(usertest.MailVerify, b.Email)
		s.verify(s.resendFor(tokenB, b.Email).Token)
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/verify-email/resend", token: tokenB}),
			http.StatusConflict, "your email address is already verified")
	})
}

// resendFor asks for a verification mail with token and returns it.
func (s *server) resendFor(token, email string) usertest.Mail {
	s.t.Helper()
	if res := s.do(req{method: "POST", path: "/api/v1/verify-email/resend", token: token}); res.Status != http.StatusAccepted {
		s.t.Fatalf("resend: got %v, want 202", res)
	}
	return s.nextMail(usertest.MailVerify, email)
}

func TestRequireVerifiedEmail(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind, apptest.Env("USERSVC_REQUIRE_VERIFIED_EMAIL", "on"))
		a := newAccount()
		s.register(a)
		s.nextMail(usertest.MailVerify, a.Email)
		wantProblem(t, s.loginAs(a.Username, "wrong password"), http.StatusUnauthorized, "incorrect username or password")
		wantProblem(t, s.loginAs(a.Username, a.Password), http.StatusForbidden,
			"verify your email address before logging in: we have sent you a new link")
		m := s.nextMail(usertest.MailVerify, a.Email) // the refused login mailed a new link
		if res := s.verify(m.Token); res.Status != http.StatusOK {
			t.Fatalf("verify: %v", res)
		}
		s.token(a.Username, a.Password)
	})
}

func TestPasswordReset(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a := newAccount()
		s.register(a)
		s.nextMail(usertest.MailVerify, a.Email)
		login := s.loginAs(a.Username, a.Password).object(t)
		other := s.token(a.Email, a.Password)

		res := s.requestReset(strings.ToUpper(a.Email), nil)
		if res.Status != http.StatusAccepted {
			t.Fatalf("password-reset: got %v, want 202", res)
		}
		if diff := cmp.Diff(map[string]any{"detail": "If an account with that email exists, we have sent a link to reset its password."}, res.object(t)); diff != "" {
			t.Errorf("password-reset body (-want +got):\n%s", diff)
		}
		first := s.nextMail(usertest.MailReset, a.Email)
		s.requestReset(a.Email, nil)
		second := s.nextMail(usertest.MailReset, a.Email)

		body := wantProblem(t, s.confirmReset(first.Token, "too short"), http.StatusUnprocessableEntity, "")
		if !strings.Contains(body["detail"].(string), "new_password") {
			t.Errorf("detail %q does not name new_password", body["detail"])
		}
		wantProblem(t, s.confirmReset(first.Token, a.Username), http.StatusUnprocessableEntity, "")
		res = s.confirmReset(first.Token, "a brand new password")
		if res.Status != http.StatusNoContent || len(res.Body) != 0 {
			t.Fatalf("confirm: got %v, want 204", res)
		}
		wantProblem(t, s.confirmReset(first.Token, "another new password"), http.StatusBadRequest, invalidToken)
		wantProblem(t, s.confirmReset(second.Token, "another new password"), http.StatusBadRequest, invalidToken)

		for _, tok := range []string{login["access_token"].(string), other} {
			wantProblem(t, s.do(req{method: "GET", path: "/api/v1/users/me", token: tok}), http.StatusUnauthorized, "")
		}
		refresh := "grant_type=refresh_token&refresh_token=" + login["refresh_token"].(string)
		wantProblem(t, s.do(req{method: "POST", path: "/api/v1/token", body: refresh, contentType: "application/x-www-form-urlencoded"}),
			http.StatusBadRequest, "the refresh token is invalid, expired or revoked")
		wantProblem(t, s.loginAs(a.Username, a.Password), http.StatusUnauthorized, "")
		s.token(a.Username, "a brand new password")
		s.nextMail(usertest.MailPasswordChanged, a.Email) // the owner is told

		// Expiry, on the service's clock.
		s.requestReset(a.Email, nil)
		late := s.nextMail(usertest.MailReset, a.Email)
		s.Clock.Advance(user.DefaultLifecyclePolicy.ResetTTL)
		wantProblem(t, s.confirmReset(late.Token, "a third new password"), http.StatusBadRequest, invalidToken)
	})
}

// TestPasswordResetNamesNoAccount compares the answers for an account and
// for no account: status, headers and body must be the same, and the
// answer must not wait for the mail.
func TestPasswordResetNamesNoAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newLifecycleServer(t, kind)
		a := newAccount()
		s.register(a)
		s.nextMail(usertest.MailVerify, a.Email)

		release := s.Mail.Hold()
		defer release()
		answered := make(chan response, 1)
		go func() { answered <- s.requestReset(a.Email, nil) }()
		var known response
		select {
		case known = <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("password-reset waited for the mail to be delivered")
		}
		unknown := s.requestReset("nobody-"+a.Email, nil)
		if known.Status != http.StatusAccepted || unknown.Status != known.Status || string(unknown.Body) != string(known.Body) {
			t.Errorf("answers differ: account %v, no account %v", known, unknown)
		}
		if diff := cmp.Diff(headersBut(known.Header, "X-Request-Id"), headersBut(unknown.Header, "X-Request-Id")); diff != "" {
			t.Errorf("headers differ (-account +no account):\n%s", diff)
		}
		release()
		s.nextMail(usertest.MailReset, a.Email)
		wantProblem(t, s.requestReset("not an email", nil), http.StatusUnprocessableEntity, "")
		// Closing the service waits for its background work: the mail of
		// every request is queued by then.
		if err := s.App.Service().Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		queued, err := s.App.Jobs().Jobs(t.Context(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		mails := 0
		for _, j := range queued {
			if j.Kind == "mail" {
				mails++
			}
		}
		if mails != 2 {
			t.Errorf("%d mails queued, want 2: a verification and one reset mail, none for no account", mails)
		}
	})
}

// headersBut is h without the named headers.
func headersBut(h http.Header, names ...string) http.Header {
	out := h.Clone()
	for _, n := range names {
		out.Del(n)
	}
	return out
}

func TestPasswordResetLimits(t *testing.T) {
	s := newLifecycleServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_MAIL", "4/1h", "USERSVC_RATE_LIMIT_MAIL_RECIPIENT", "2/1h"))
	for i, email := range []string{"x@example.com", "X@example.com"} {
		if res := s.requestReset(email, nil); res.Status != http.StatusAccepted {
			t.Fatalf("request %d: got %v, want 202", i+1, res)
		}
	}
	wantRecipient429(t, s.requestReset("x@EXAMPLE.com", nil)) // per email, ignoring case
	if res := s.requestReset("y@example.com", nil); res.Status != http.StatusAccepted {
		t.Fatalf("another email: got %v, want 202", res)
	}
	want429(t, s.requestReset("z@example.com", nil), "") // per client address
}

// wantRecipient429 checks a refusal by the per-recipient rule, which comes
// after the per-address one has added its headers.
func wantRecipient429(t *testing.T, res response) {
	t.Helper()
	wantProblem(t, res, http.StatusTooManyRequests, "")
	if res.Header.Get("Retry-After") == "" || !strings.Contains(strings.Join(res.Header.Values("RateLimit"), ", "), `"mail-recipient";r=0;`) {
		t.Errorf("headers %v: want Retry-After and the mail-recipient policy exhausted", res.Header)
	}
}

func TestOpenAPILifecycle(t *testing.T) {
	srv := newServer(t, apptest.Memory)
	var doc openAPI
	if err := json.Unmarshal(srv.do(req{method: "GET", path: "/openapi.json"}).Body, &doc); err != nil {
		t.Fatal(err)
	}
	for path, schema := range map[string]string{
		"/api/v1/verify-email":           "EmailVerification",
		"/api/v1/password-reset":         "PasswordResetRequest",
		"/api/v1/password-reset/confirm": "PasswordResetConfirm",
	} {
		op := doc.Paths[path]["post"]
		if op.RequestBody == nil || op.RequestBody.Content["application/json"].Schema.Ref != "#/components/schemas/"+schema || len(op.Security) != 0 {
			t.Errorf("POST %s: want a public operation with a %s body", path, schema)
		}
	}
	if op := doc.Paths["/api/v1/verify-email/resend"]["post"]; op.RequestBody != nil || len(op.Security) != 2 {
		t.Errorf("POST /verify-email/resend: want a bearer operation without a body")
	}
	for schema, required := range map[string][]string{
		"EmailVerification":    {"token"},
		"PasswordResetRequest": {"email"},
		"PasswordResetConfirm": {"token", "new_password"},
		"Accepted":             {"detail"},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("no schema %s", schema)
			continue
		}
		if diff := cmp.Diff(required, s.Required); diff != "" || s.AdditionalProperties {
			t.Errorf("%s required (-want +got):\n%s; additional properties %v", schema, diff, s.AdditionalProperties)
		}
		if got := slices.Sorted(maps.Keys(s.Properties)); !slices.Equal(got, slices.Sorted(slices.Values(required))) {
			t.Errorf("%s properties = %v, want %v", schema, got, required)
		}
	}
}
