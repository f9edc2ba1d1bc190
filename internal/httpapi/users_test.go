package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/user"
)

func TestReadMe(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, tok := srv.signedUp()
		res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
		if res.Status != http.StatusOK {
			t.Fatalf("got %v, want 200", res)
		}
		wantUserRead(t, res.object(t), a.Email, a.Username, nil)
		for _, secret := range []string{"password", "hash", a.Password} {
			if strings.Contains(string(res.Body), secret) {
				t.Errorf("body %s contains %q", res.Body, secret)
			}
		}
	})
}

// TestProtectedRoutesRefuseBadTokens sends every protected route every kind
// of bad credentials.
func TestProtectedRoutesRefuseBadTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, id := srv.signUp()
		good := srv.token(a.Username, a.Password)
		sid := uuid.MustParse(claims(t, good)["sid"].(string))
		forge := func(change func(*forger)) string {
			f := genuine(srv.Clock.Now())
			if change != nil {
				change(&f)
			}
			return f.issue(t, security.Claims{UserID: id, SessionID: sid})
		}
		// The control: a token forged with everything right is accepted,
		// so each case below is refused for what it changes.
		if res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: forge(nil)}); res.Status != http.StatusOK {
			t.Fatalf("a token made with the service's own secret, issuer and audience: got %v, want 200", res)
		}
		for _, tt := range []struct {
			name          string
			authorization string
		}{
			{"no header", ""},
			{"empty bearer", "Bearer "},
			{"bearer without space", "Bearer"},
			{"basic scheme", "Basic dXNlcjpwYXNz"},
			{"token without scheme", good},
			{"garbage token", "Bearer not.a.jwt"},
			{"other secret", "Bearer " + forge(func(f *forger) { f.secret = strings.Repeat("x", 32) })},
			{"other issuer", "Bearer " + forge(func(f *forger) { f.issuer = "someone-else" })},
			{"other audience", "Bearer " + forge(func(f *forger) { f.audience = "another-service" })},
			{"expired", "Bearer " + forge(func(f *forger) { f.now = f.now.Add(-time.Hour) })},
			{"tampered", "Bearer " + good[:len(good)-2] + "xx"},
		} {
			for _, route := range []req{
				{method: "GET", path: "/api/v1/users/me"},
				{method: "PUT", path: "/api/v1/users/me", body: `{"full_name":"x"}`},
				{method: "DELETE", path: "/api/v1/users/me"},
				{method: "PUT", path: "/api/v1/users/me/password", body: `{"current_password":"x","new_password":"long enough"}`},
			} {
				t.Run(tt.name+"/"+route.method+" "+route.path, func(t *testing.T) {
					if tt.authorization != "" {
						route.header = http.Header{"Authorization": {tt.authorization}}
					}
					wantProblem(t, srv.do(route), http.StatusUnauthorized, "could not validate credentials")
				})
			}
		}
		// None of that touched the account.
		if res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: good}); res.Status != http.StatusOK {
			t.Errorf("GET /users/me with the good token: got %v, want 200", res)
		}
	})
}

func TestUpdateMe(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, tok := srv.signedUp()
		newEmail := newAccount().Email
		// Each step starts from where the previous one left the account.
		for _, tt := range []struct {
			name     string
			body     string
			email    string
			fullName any
		}{
			{"set full name", `{"full_name":"Ada Lovelace"}`, a.Email, "Ada Lovelace"},
			{"empty object keeps all", `{}`, a.Email, "Ada Lovelace"},
			{"null keeps full name", `{"full_name":null}`, a.Email, "Ada Lovelace"},
			{"change email keeps full name", `{"email":"` + newEmail + `"}`, newEmail, "Ada Lovelace"},
			{"null email keeps it", `{"email":null,"full_name":"Ada King"}`, newEmail, "Ada King"},
			{"empty full name clears it", `{"full_name":""}`, newEmail, nil},
			{"both", `{"email":"` + a.Email + `","full_name":"Ada"}`, a.Email, "Ada"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := srv.do(req{method: "PUT", path: "/api/v1/users/me", body: tt.body, token: tok})
				if res.Status != http.StatusOK {
					t.Fatalf("got %v, want 200", res)
				}
				wantUserRead(t, res.object(t), tt.email, a.Username, tt.fullName)
				res = srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
				wantUserRead(t, res.object(t), tt.email, a.Username, tt.fullName)
			})
		}
	})
}

func TestUpdateMeRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		_, tok := srv.signedUp()
		other := newAccount()
		srv.register(other)
		for _, tt := range []struct {
			name   string
			body   string
			status int
			detail string
		}{
			{"email taken", `{"email":"` + other.Email + `"}`, 400, "a user with this email already exists"},
			{"email taken in another case", `{"email":"` + strings.ToUpper(other.Email) + `"}`, 400, "a user with this email already exists"},
			{"display-name email", `{"email":"Bob<b@x.io>"}`, 422, "email: is not a valid email address"},
			{"not an email", `{"email":"nope"}`, 422, "validation failed: body.email: expected string to be RFC 5322 email: mail: missing '@' or angle-addr"},
			{"empty email", `{"email":""}`, 422, ""},
			{"long full name", `{"full_name":"` + strings.Repeat("n", 256) + `"}`, 422, "validation failed: body.full_name: expected length <= 255"},
			{"control character in full name", `{"full_name":"a\u0007b"}`, 422, "full_name: must not contain control, format (such as bidi overrides or zero-width characters) or line separator characters"},
			{"unknown field", `{"username":"new_name"}`, 422, "validation failed: body.username: unexpected property"},
			{"is_active", `{"is_active":false}`, 422, "validation failed: body.is_active: unexpected property"},
			{"wrong type", `{"full_name":5}`, 422, "validation failed: body.full_name: expected string"},
			{"malformed JSON", `{"full_name":"x"`, 400, "validation failed: body: unexpected end of JSON input"},
			{"invalid UTF-8", "{\"full_name\":\"\xc3\x28\"}", 400, "validation failed: body: request body is not valid UTF-8"},
			{"lone surrogate escape", `{"full_name":"\ud800"}`, 400, `validation failed: body: request body has a \u escape of an unpaired UTF-16 surrogate`},
			{"empty body", ``, 400, "request body is required"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := req{method: "PUT", path: "/api/v1/users/me", body: tt.body, token: tok}
				if tt.body == "" {
					r.contentType = "application/json"
				}
				wantProblem(t, srv.do(r), tt.status, tt.detail)
			})
		}
	})
}

func TestDeleteMe(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, tok := srv.signedUp()
		res := srv.do(req{method: "DELETE", path: "/api/v1/users/me", token: tok})
		if res.Status != http.StatusNoContent || len(res.Body) != 0 {
			t.Fatalf("got %v, want 204 and no body", res)
		}
		for _, r := range []req{
			{method: "GET", path: "/api/v1/users/me", token: tok},
			{method: "DELETE", path: "/api/v1/users/me", token: tok},
		} {
			wantProblem(t, srv.do(r), http.StatusUnauthorized, "could not validate credentials")
		}
		wantProblem(t, srv.loginAs(a.Username, a.Password), http.StatusUnauthorized, "incorrect username or password")
		srv.register(a) // the email and username are free again
	})
}

func TestChangePassword(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, tok := srv.signedUp()
		change := func(current, next string) response {
			return srv.do(req{method: "PUT", path: "/api/v1/users/me/password", token: tok,
				body: `{"current_password":"` + current + `","new_password":"` + next + `"}`})
		}
		for _, tt := range []struct {
			name          string
			current, next string
			status        int
			detail        string
		}{
			{"wrong current password", "wrong password", "new long password", 400, "current password is incorrect"},
			{"same password", a.Password, a.Password, 422, "new_password: must differ from the current password"},
			{"short new password", a.Password, "short", 422, "validation failed: body.new_password: expected length >= 8"},
			{"73-byte new password", a.Password, strings.Repeat("é", 36) + "p", 422, "new_password: must be at most 72 bytes"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantProblem(t, change(tt.current, tt.next), tt.status, tt.detail)
			})
		}
		missing := srv.do(req{method: "PUT", path: "/api/v1/users/me/password", token: tok, body: `{"new_password":"new long password"}`})
		wantProblem(t, missing, http.StatusUnprocessableEntity,
			"validation failed: body: expected required property current_password to be present")
		if strings.Contains(string(missing.Body), "new long password") {
			t.Errorf("the error echoes the password: %s", missing.Body)
		}

		res := change(a.Password, "new long password")
		if res.Status != http.StatusNoContent || len(res.Body) != 0 {
			t.Fatalf("got %v, want 204 and no body", res)
		}
		wantProblem(t, srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok}),
			http.StatusUnauthorized, "could not validate credentials")
		wantProblem(t, srv.loginAs(a.Username, a.Password), http.StatusUnauthorized, "incorrect username or password")
		fresh := srv.token(a.Username, "new long password")
		if res := srv.do(req{method: "GET", path: "/api/v1/users/me", token: fresh}); res.Status != http.StatusOK {
			t.Errorf("GET /users/me with a token from the new password: got %v, want 200", res)
		}
	})
}

// TestUserVanishes deletes the account between the token check and the
// handler's own call: the caller's credentials are no longer good.
func TestUserVanishes(t *testing.T) {
	for _, r := range []req{
		{method: "PUT", path: "/api/v1/users/me", body: `{"full_name":"x"}`},
		{method: "PUT", path: "/api/v1/users/me/password", body: `{"current_password":"correct horse battery","new_password":"long enough"}`},
		{method: "DELETE", path: "/api/v1/users/me"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, apptest.Memory)
			_, tok := srv.signedUp()
			srv.Memory.SetAfterByID(func(u user.User) { _ = srv.Memory.Stores().Users.Delete(t.Context(), u.ID) })
			r.token = tok
			wantProblem(t, srv.do(r), http.StatusUnauthorized, "could not validate credentials")
		})
	}
}

func TestInternalError(t *testing.T) {
	cause := errors.New("connection refused by db.internal:5432")
	srv := newServer(t, apptest.Memory)
	_, tok := srv.signedUp()
	srv.Memory.SetFail(cause)
	for _, r := range []req{
		{method: "POST", path: "/api/v1/register", body: newAccount().json()},
		{method: "POST", path: "/api/v1/token", body: "username=a&password=b", contentType: "application/x-www-form-urlencoded"},
		{method: "GET", path: "/api/v1/users/me", token: tok},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			res := srv.do(r)
			body := wantProblem(t, res, http.StatusInternalServerError, "internal server error")
			if _, ok := body["errors"]; ok || strings.Contains(string(res.Body), "db.internal") {
				t.Errorf("the 500 body says more than it should: %s", res.Body)
			}
			id := res.Header.Get("X-Request-ID")
			var found bool
			for _, l := range srv.logLines() {
				if l["request_id"] == id && l["level"] == "ERROR" && strings.Contains(l["error"].(string), cause.Error()) {
					found = true
				}
			}
			if !found {
				t.Errorf("no ERROR log line with request_id %s and the cause; logs:\n%s", id, srv.Logs.Bytes())
			}
		})
	}
}

// TestBodyReadError: huma's own 500 (the body cannot be read) says no more
// than ours, and its cause is logged.
func TestBodyReadError(t *testing.T) {
	srv := newServer(t, apptest.Memory)
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/register", iotest.ErrReader(errors.New("connection reset by peer")))
	hr.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.h.ServeHTTP(w, hr)
	res := response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	body := wantProblem(t, res, http.StatusInternalServerError, "internal server error")
	if _, ok := body["errors"]; ok {
		t.Errorf("the 500 body lists errors: %s", res.Body)
	}
	if logs := string(srv.Logs.Bytes()); !strings.Contains(logs, "connection reset by peer") {
		t.Errorf("the cause is not logged:\n%s", logs)
	}
}
