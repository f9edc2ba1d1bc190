package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/event"
	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/oidcop"
	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/passkey/passkeytest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
	"github.com/usersvc/usersvc/internal/webhook"
)

// TestErrorTableOverHTTP reaches every row of the error table through the
// API and checks that the answer has the row's status and code (and the
// detail it starts with), then the codes of the answers huma and the
// router make themselves. A new row fails the test until it gets a case
// here.
func TestErrorTableOverHTTP(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory, limitsOn("USERSVC_RATE_LIMIT_LOGIN", "off", "USERSVC_RATE_LIMIT_REGISTER", "off",
		"USERSVC_RATE_LIMIT_MAIL", "1/1h", "USERSVC_LOGIN_LOCKOUT_THRESHOLD", "2", "USERSVC_CLIENT_LOCKOUT_THRESHOLD", "2",
		"USERSVC_HASH_CONCURRENCY", "1", "USERSVC_HASH_QUEUE", "1", "USERSVC_HASH_MAX_WAIT", "1ms"))
	cases := errorCases(t, s)
	seen := map[string]bool{}
	for _, row := range httpapi.ErrorRows() {
		seen[row.Detail] = true
		t.Run(row.Code+" "+row.Detail, func(t *testing.T) {
			send, ok := cases[row.Detail]
			if !ok {
				t.Fatalf("no request here reaches this row (%d %s): add one", row.Status, row.Code)
			}
			wantCode(t, send(), row.Status, row.Code, row.Detail)
		})
	}
	for detail := range cases {
		if !seen[detail] {
			t.Errorf("the case %q matches no row of the error table", detail)
		}
	}
	// The answers huma and the router make on their own.
	for _, tt := range []struct {
		r            req
		status       int
		code, detail string
	}{
		{req{method: "POST", path: "/api/v1/register", body: `{}`}, 422, "validation_failed", "validation failed"},
		{req{method: "GET", path: "/nowhere"}, 404, "not_found", "not found"},
		{req{method: "PATCH", path: "/api/v1/users/me"}, 405, "method_not_allowed", "method not allowed"},
		{req{method: "POST", path: "/api/v1/register", body: `{"email":`}, 400, "malformed_request", "validation failed"},
		{req{method: "POST", path: "/api/v1/register", body: `{}`, contentType: "text/plain"}, 415, "unsupported_media_type", ""},
	} {
		wantCode(t, s.do(tt.r), tt.status, tt.code, tt.detail)
	}
	s.Memory.SetFail(errors.New("the disk is on fire"))
	defer s.Memory.SetFail(nil)
	wantCode(t, s.do(req{method: "POST", path: "/api/v1/register", body: newAccount().json()}), 500, "internal_error", "internal server error")
}

// wantCode checks an error answer's status, code and the start of its
// detail.
func wantCode(t *testing.T, res response, status int, code, detail string) {
	t.Helper()
	body := wantProblem(t, res, status, "")
	if body["code"] != code {
		t.Errorf("code: got %v, want %s (%v)", body["code"], code, res)
	}
	if d, _ := body["detail"].(string); !strings.HasPrefix(d, detail) {
		t.Errorf("detail: got %q, want it to start with %q", d, detail)
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%d without Retry-After", status)
		}
	}
}

// errorCases are requests to s that meet each row of the error table, by
// the row's detail. Each leaves s as it found it for the others.
func errorCases(t *testing.T, s *server) map[string]func() response {
	t.Helper()
	taken := newAccount()
	s.register(taken)
	if res := s.verify(s.nextMail(usertest.MailVerify, taken.Email).Token); res.Status != http.StatusOK {
		t.Fatalf("verify: %v", res)
	}
	tok := s.token(taken.Username, taken.Password)
	admin, adminID := s.signUp()
	s.setRole(adminID, user.RoleAdmin)
	adminTok := s.token(admin.Username, admin.Password)
	locked, _ := s.signUp()
	unverified := newServer(t, apptest.Memory, apptest.Env("USERSVC_REQUIRE_VERIFIED_EMAIL", "on"))
	pending, _ := unverified.signUp()

	login := func(form string) func() response {
		return func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: form, contentType: formType})
		}
	}
	authed := func(method, path, token, body string) func() response {
		return func() response { return s.do(req{method: method, path: path, token: token, body: body}) }
	}
	other := newAccount()
	// Passkeys: a server of their own, without limits (the registrations
	// up to the most an account may hold would reach them).
	pk := newServer(t, apptest.Memory)
	return map[string]func() response{
		user.ErrEmailTaken.Error(): func() response {
			return s.do(req{method: "POST", path: "/api/v1/register", body: account{taken.Email, other.Username, other.Password}.json()})
		},
		user.ErrUsernameTaken.Error(): func() response {
			return s.do(req{method: "POST", path: "/api/v1/register", body: account{other.Email, taken.Username, other.Password}.json()})
		},
		user.ErrWrongPassword.Error(): authed("PUT", "/api/v1/users/me/password", tok,
			`{"current_password":"not my password","new_password":"a new long password"}`),
		user.ErrInvalidGrant.Error(): login("grant_type=refresh_token&refresh_token=not-a-token"),
		user.ErrInvalidToken.Error(): func() response { return s.verify("not-a-token") },
		"the body is not a well-formed application/x-www-form-urlencoded form": login("username=%zz&password=x"),
		"request body is required":         login(""),
		user.ErrInvalidCredentials.Error(): login("username=nobody&password=whatever"),
		user.ErrUnauthenticated.Error():    authed("GET", "/api/v1/users/me", "", ""),
		user.ErrForbidden.Error():          authed("GET", "/api/v1/admin/users", tok, ""),
		user.ErrReauthenticationRequired.Error(): func() response {
			later := newServer(t, apptest.Memory) // its own clock, moved past the window
			a, token := later.signedUp()
			later.Clock.Advance(user.DefaultReauthWindow + time.Second)
			return later.do(req{method: "PUT", path: "/api/v1/users/me", token: token, body: `{"email":"later-` + a.Email + `"}`})
		},
		user.ErrEmailNotVerified.Error(): func() response {
			return unverified.loginAs(pending.Username, pending.Password)
		},
		"no user with this id":          authed("GET", "/api/v1/admin/users/"+uuid.NewString(), adminTok, ""),
		user.ErrJobNotFound.Error():     authed("POST", "/api/v1/admin/jobs/987654/retry", adminTok, ""),
		user.ErrSessionNotFound.Error(): authed("DELETE", "/api/v1/users/me/sessions/"+uuid.NewString(), tok, ""),
		// A delivered mail: a server of its own, on a store with a queue.
		user.ErrJobCompleted.Error(): func() response {
			q := newServer(t, apptest.SQLite)
			root, rootID := q.signUp()
			q.setRole(rootID, user.RoleAdmin)
			rootTok := q.token(root.Username, root.Password)
			q.nextMail(usertest.MailVerify, root.Email)
			return q.do(req{method: "POST", path: fmt.Sprintf("/api/v1/admin/jobs/%d/retry", q.completedJob(rootTok, "mail")), token: rootTok})
		},
		"discovery is off: the service's external base URL (USERSVC_PUBLIC_URL) is not configured": authed("GET", "/.well-known/openid-configuration", "", ""),
		"the body must be an application/x-www-form-urlencoded form with a token, each parameter given once": func() response {
			return s.do(req{method: "POST", path: "/api/v1/revoke", body: "token_type_hint=access_token", contentType: formType})
		},
		// The OpenID provider's authorization endpoint, to a program
		// (JSON only), with a client_id nobody registered: a server of
		// its own, on a store that keeps the provider's state.
		oidcop.ErrInvalidAuthorization.Error(): func() response {
			op := newServer(t, apptest.SQLite, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", "http://127.0.0.1:1"))
			q := url.Values{"client_id": {"no-such-client"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}
			return op.do(req{method: "GET", path: oidcop.AuthorizePath + "?" + q.Encode(), header: http.Header{"Accept": {"application/json"}}})
		},
		user.ErrLastAdmin.Error():       authed("DELETE", "/api/v1/users/me", adminTok, ""),
		user.ErrAlreadyVerified.Error(): authed("POST", "/api/v1/verify-email/resend", tok, ""),
		"the body must be application/x-www-form-urlencoded or application/json": func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: `<login/>`, contentType: "application/xml"})
		},
		"the body is not a well-formed JSON object": func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: `{"username":"a",`})
		},
		"request body is not valid UTF-8": func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: "{\"username\":\"a\xff\"}"})
		},
		`request body has a \u escape of an unpaired UTF-16 surrogate`: func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: `{"username":"a\ud800"}`})
		},
		"client authentication failed: send client_id with its secret once, by HTTP Basic or as client_secret": func() response {
			return s.do(req{method: "POST", path: "/api/v1/token", body: "username=a&password=b&client_secret=s", contentType: formType})
		},
		oauthclient.ErrInvalidClient.Error(): login("username=a&password=b&client_id=docs-page&client_secret=s"),
		// A refresh token of a login that named a client, revoked without it.
		user.ErrRevokerNotTokensClient.Error(): func() response {
			v := url.Values{"username": {taken.Username}, "password": {taken.Password}, "client_id": {"my-app"}}
			res := s.do(req{method: "POST", path: "/api/v1/token", body: v.Encode(), contentType: formType})
			rt, _ := res.object(t)["refresh_token"].(string)
			return s.do(req{method: "POST", path: "/api/v1/revoke", body: url.Values{"token": {rt}}.Encode(), contentType: formType})
		},
		oauthclient.ErrUnauthorizedClient.Error(): func() response {
			c := s.createClient(adminTok, `{"name":"Partner","redirect_uris":["https://partner.example.com/cb"]}`)
			return login("username=a&password=b&client_id=" + c.ClientID)()
		},
		oauthclient.ErrInsufficientScope.Error(): func() response {
			c := s.createClient(adminTok, `{"name":"Reader","confidential":true,"grant_types":["client_credentials"],"scopes":["users:read"]}`)
			return s.do(req{method: "GET", path: "/api/v1/admin/audit", token: s.serviceToken(c.ClientID, "users:read")})
		},
		user.ErrServiceAccountLimit.Error(): func() response {
			c := s.createClient(adminTok, `{"name":"Provisioning","confidential":true,"grant_types":["client_credentials"],"scopes":["users:write"]}`)
			return s.do(req{method: "DELETE", path: "/api/v1/admin/users/" + adminID.String(), token: s.serviceToken(c.ClientID, "users:write")})
		},
		oauthclient.ErrNotFound.Error(): authed("GET", "/api/v1/admin/clients/nope", adminTok, ""),
		"no consent to this client":     authed("DELETE", "/api/v1/users/me/consents/nope", tok, ""),
		oauthclient.ErrPublicClient.Error(): func() response {
			c := s.createClient(adminTok, `{"name":"SPA","redirect_uris":["https://spa.example.com/cb"]}`)
			return s.do(req{method: "POST", path: "/api/v1/admin/clients/" + c.ClientID + "/rotate-secret", token: adminTok})
		},
		"the OAuth client registry is unavailable": func() response {
			none := newServer(t, apptest.Memory, apptest.NoClients())
			return none.do(req{method: "GET", path: "/api/v1/admin/clients", token: none.adminToken()})
		},
		"request body is too large": func() response { return s.unsizedToken(strings.Repeat("x", 65<<10)) },
		user.ErrLocked.Error(): func() response {
			for i := range 2 {
				s.loginAs(locked.Username, "wrong password "+strconv.Itoa(i))
			}
			return s.loginAs(locked.Username, locked.Password)
		},
		oauthclient.ErrClientLocked.Error(): func() response {
			c := s.createClient(adminTok, `{"name":"BFF","first_party":true,"confidential":true}`)
			for i := range 2 {
				s.do(req{method: "POST", path: "/api/v1/token", body: "username=a&password=b", contentType: formType, header: basicClient(c.ClientID, "wrong "+strconv.Itoa(i))})
			}
			return s.do(req{method: "POST", path: "/api/v1/token", body: "username=a&password=b", contentType: formType, header: basicClient(c.ClientID, c.ClientSecret)})
		},
		user.ErrRateLimited.Error(): func() response {
			r := req{method: "POST", path: "/api/v1/password-reset", body: `{"email":"x@example.com"}`, header: from("203.0.113.50:1")}
			s.do(r)
			return s.do(r)
		},
		user.ErrBusy.Error(): func() response {
			release, err := s.App.HashGate().Acquire(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			return s.loginAs(taken.Username, taken.Password)
		},
		passkey.ErrNotFound.Error(): func() response {
			_, tok := pk.signedUp()
			return pk.do(req{method: "DELETE", path: "/api/v1/users/me/passkeys/" + uuid.NewString(), token: tok})
		},
		passkey.ErrTaken.Error(): func() response {
			_, first := pk.signedUp()
			_, second := pk.signedUp()
			auth := passkeytest.NewAuthenticator(passkeyOrigin)
			pk.addPasskey(first, auth, "")
			auth.Reuse = true // the same credential offered to another account
			ceremony, options := pk.passkeyOptions("/api/v1/users/me/passkeys/register/options", second, "")
			cred, err := auth.Create(options)
			if err != nil {
				t.Fatal(err)
			}
			return pk.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/verify", token: second, body: verifyBody(t, ceremony, cred)})
		},
		passkey.ErrTooMany.Error(): func() response {
			_, tok := pk.signedUp()
			for range passkey.MaxPerUser {
				pk.addPasskey(tok, passkeytest.NewAuthenticator(passkeyOrigin), "")
			}
			return pk.do(req{method: "POST", path: "/api/v1/users/me/passkeys/register/options", token: tok, body: "{}"})
		},
		passkey.ErrCeremony.Error(): func() response {
			return pk.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: verifyBody(t, "unknown", map[string]any{"id": "x"})})
		},
		passkey.ErrVerification.Error(): func() response {
			ceremony, _ := pk.passkeyOptions("/api/v1/passkeys/login/options", "", "")
			return pk.do(req{method: "POST", path: "/api/v1/passkeys/login/verify", body: verifyBody(t, ceremony, map[string]any{"id": "x"})})
		},
		passkey.ErrInvalidName.Error(): func() response {
			_, tok := pk.signedUp()
			id := pk.addPasskey(tok, passkeytest.NewAuthenticator(passkeyOrigin), "")["id"].(string)
			return pk.do(req{method: "PATCH", path: "/api/v1/users/me/passkeys/" + id, token: tok, body: `{"name":"bell\u0007"}`})
		},
		webhook.ErrEndpointNotFound.Error(): authed("GET", "/api/v1/admin/webhooks/"+uuid.NewString(), adminTok, ""),
		webhook.ErrDeliveryNotFound.Error(): func() response {
			id := s.createWebhook(adminTok, `{"url":"http://localhost:9/hook","types":["*"]}`).ID
			return s.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + id + "/deliveries/" + uuid.NewString() + "/replay", token: adminTok})
		},
		webhook.ErrEndpointDisabled.Error(): func() response {
			// localhost is refused by the guard: the test event fails without a
			// connection, and leaves a delivery to replay.
			id := s.createWebhook(adminTok, `{"url":"http://localhost:9/hook","types":["*"]}`).ID
			d := s.sendTestWebhook(adminTok, id)
			s.do(req{method: "PATCH", path: "/api/v1/admin/webhooks/" + id, token: adminTok, body: `{"enabled":false}`})
			return s.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + id + "/deliveries/" + d.ID + "/replay", token: adminTok})
		},
		webhook.ErrDeliveryInProgress.Error(): func() response { return replayWhileSending(t) },
		webhook.ErrAccountDeleted.Error(): func() response {
			// localhost is refused by the guard: the event's delivery fails
			// without a connection, and is left to replay.
			id := s.createWebhook(adminTok, `{"url":"http://localhost:9/hook","types":["user.created"]}`).ID
			gone, goneID := s.signUp()
			ev := event.Event{ID: uuid.NewString(), Type: event.UserCreated, Time: time.Now(), Subject: goneID, Seq: 1, Data: []byte(`{}`)}
			if err := s.App.Webhooks().Deliver(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
			s.do(req{method: "DELETE", path: "/api/v1/users/me", token: s.token(gone.Username, gone.Password)})
			list := decode[struct{ Items []deliveryBody }](t, s.do(req{method: "GET", path: "/api/v1/admin/webhooks/" + id + "/deliveries", token: adminTok}), http.StatusOK)
			if len(list.Items) != 1 {
				t.Fatalf("%d deliveries, want the event's", len(list.Items))
			}
			return s.do(req{method: "POST", path: "/api/v1/admin/webhooks/" + id + "/deliveries/" + list.Items[0].ID + "/replay", token: adminTok})
		},
		webhook.ErrUnavailable.Error(): func() response {
			none := newServer(t, apptest.Memory, apptest.NoWebhooks())
			a, id := none.signUp()
			none.setRole(id, user.RoleAdmin)
			return none.do(req{method: "GET", path: "/api/v1/admin/webhooks", token: none.token(a.Username, a.Password)})
		},
		user.ErrInvalidMFAToken.Error(): login("grant_type=urn:usersvc:params:oauth:grant-type:mfa-otp&otp=123456&mfa_token=" + strings.Repeat("x", 43)),
		user.ErrFactorNotFound.Error():  authed("POST", "/api/v1/users/me/mfa/totp/confirm", tok, `{"code":"123456"}`),
		user.ErrFactorExists.Error(): func() response {
			_, token := s.signedUp()
			s.enrolTOTP(token)
			return s.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
		},
		user.ErrTOTPSetupReplaced.Error(): func() response {
			_, token := s.signedUp()
			first, setup := s.startTOTP(token)
			s.startTOTP(token)
			return s.confirmTOTPSetup(token, otpCode(t, first, s.Clock.Now()), setup)
		},
		user.ErrMFARequired.Error(): func() response {
			a, token := s.signedUp()
			s.enrolTOTP(token)
			return s.loginAs(a.Username, a.Password)
		},
		user.ErrInvalidCode.Error(): func() response {
			a, token := s.signedUp()
			secret, _ := s.enrolTOTP(token)
			wrong := "000000"
			if otpCode(t, secret, s.Clock.Now()) == wrong {
				wrong = "111111"
			}
			return s.secondStep("mfa-otp", s.mfaToken(a.Username, a.Password), "otp", wrong)
		},
		user.ErrMFAEnrolmentRequired.Error(): func() response {
			strict := newServer(t, apptest.Memory, apptest.Env("USERSVC_REQUIRE_MFA_FOR", "all"))
			_, token := strict.signedUp()
			return strict.do(req{method: "GET", path: "/api/v1/users/me/sessions", token: token})
		},
		user.ErrMFALoginRequired.Error(): func() response {
			strict := newServer(t, apptest.Memory, apptest.Env("USERSVC_REQUIRE_MFA_FOR", "admin"))
			a, id := strict.signUp()
			strict.setRole(id, user.RoleAdmin)
			token := strict.token(a.Username, a.Password)
			strict.enrolTOTP(token)
			return strict.do(req{method: "GET", path: "/api/v1/admin/users", token: token})
		},
		user.ErrMFAUnavailable.Error(): func() response {
			// The development key-encryption key file is unusable: no
			// sealer, so no TOTP secret can be kept.
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, config.KeyEncryptionKeyFile), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			broken := newServer(t, apptest.Memory, apptest.Env("USERSVC_DATA_DIR", dir))
			_, token := broken.signedUp()
			return broken.do(req{method: "POST", path: "/api/v1/users/me/mfa/totp", token: token})
		},
		user.ErrUnavailable.Error(): func() response {
			s.Memory.SetFail(fmt.Errorf("%w: the database is down", user.ErrUnavailable))
			defer s.Memory.SetFail(nil)
			return s.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
		},
	}
}

// unsizedToken sends body to /token without saying its length (as a
// chunked request does), so that only reading it finds it too large.
func (s *server) unsizedToken(body string) response {
	s.t.Helper()
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/token", strings.NewReader(body))
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, hr)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes(), path: hr.URL.Path}
}

// TestThousandsOfBadFieldsGetASmallAnswer: a body of thousands of unknown
// fields is answered with at most 10 field errors and a count of the
// rest at a JSON route (which huma reads); /token ignores unknown
// parameters (RFC 6749 section 3.2), so they cost it nothing either.
func TestThousandsOfBadFieldsGetASmallAnswer(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.Memory)
	const n = 3000
	form := url.Values{"username": {"ada"}, "password": {"correct horse"}}
	fields := map[string]any{"email": "ada@example.com", "username": "ada", "password": "correct horse"}
	for i := range n {
		name := fmt.Sprintf("f%04d", i)
		form.Set(name, "1")
		fields[name] = 1
	}
	body, _ := json.Marshal(fields)
	res := s.do(req{method: "POST", path: "/api/v1/token", body: form.Encode(), contentType: formType})
	wantOAuthError(t, res, http.StatusUnauthorized, "invalid_grant", "incorrect username or password")
	for _, tt := range []struct {
		name  string
		r     req
		first string // the first field listed, "" when the order is huma's (a map's)
	}{
		{"JSON body", req{method: "POST", path: "/api/v1/register", body: string(body)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := s.do(tt.r)
			p := wantProblem(t, res, http.StatusUnprocessableEntity, "")
			errs, _ := p["errors"].([]any)
			if len(errs) != 10 {
				t.Errorf("%d field errors listed, want 10", len(errs))
			}
			for _, e := range errs {
				if m, _ := e.(map[string]any); !unknownField.MatchString(fmt.Sprint(m["location"])) || m["message"] != "unexpected property" {
					t.Errorf("field error %v: want an unexpected property body.fNNNN", e)
				}
			}
			d, _ := p["detail"].(string)
			if !strings.HasSuffix(d, fmt.Sprintf("; and %d more", n-10)) || strings.Count(d, "unexpected property") != 10 {
				t.Errorf("detail %q: want 10 fields named and the rest counted (and %d more)", d, n-10)
			}
			if tt.first != "" {
				wantLocated(t, p, "body."+tt.first)
			}
			if len(res.Body) > 2048 {
				t.Errorf("the answer is %d bytes, want a small one", len(res.Body))
			}
		})
	}
}

// unknownField is where the fields of TestThousandsOfBadFieldsGetASmallAnswer
// are.
var unknownField = regexp.MustCompile(`^body\.f\d{4}$`)
