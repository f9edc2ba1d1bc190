package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

func TestRegister(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a := newAccount()
		res := srv.do(req{method: "POST", path: "/api/v1/register", body: a.json()})
		if res.Status != http.StatusCreated {
			t.Fatalf("got %v, want 201", res)
		}
		body := res.object(t)
		wantUserRead(t, body, a.Email, a.Username, nil)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type: got %q, want application/json", ct)
		}
	})
}

// wantUserRead checks a UserRead body: exactly the contract's keys, the
// given values, and a fresh timestamp pair.
func wantUserRead(t *testing.T, body map[string]any, email, username string, fullName any) {
	t.Helper()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range body {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"created_at", "email", "email_verified", "full_name", "id", "is_active", "role", "updated_at", "username"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("UserRead keys (-want +got):\n%s", diff)
	}
	got := map[string]any{"email": body["email"], "username": body["username"], "full_name": body["full_name"], "is_active": body["is_active"], "role": body["role"]}
	wantFields := map[string]any{"email": email, "username": username, "full_name": fullName, "is_active": true, "role": "user"}
	if diff := cmp.Diff(wantFields, got); diff != "" {
		t.Errorf("UserRead fields (-want +got):\n%s", diff)
	}
	if _, err := uuid.Parse(body["id"].(string)); err != nil {
		t.Errorf("id %v is not a UUID: %v", body["id"], err)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		s, _ := body[k].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("%s %q is not an RFC 3339 time: %v", k, s, err)
		}
	}
}

func TestRegisterRefused(t *testing.T) {
	taken := newAccount()
	long := strings.Repeat("a", 64<<10)
	type refusal struct {
		name        string
		body        string
		contentType string
		status      int
		detail      string // the whole detail, or "" when checked by contains
		contains    string // a part of the detail
	}
	cases := []refusal{
		{"email taken", `{"email":"` + taken.Email + `","username":"other_` + taken.Username + `","password":"long enough"}`, "", 400, "a user with this email already exists", ""},
		{"email taken in another case", `{"email":"` + strings.ToUpper(taken.Email) + `","username":"other2_` + taken.Username + `","password":"long enough"}`, "", 400, "a user with this email already exists", ""},
		{"username taken", `{"email":"other_` + taken.Email + `","username":"` + strings.ToUpper(taken.Username) + `","password":"long enough"}`, "", 400, "a user with this username already exists", ""},
		{"unknown field", `{"email":"u1@example.com","username":"u123","password":"long enough","is_active":false}`, "", 422, "", "body.is_active: unexpected property"},
		{"hashed_password field", `{"email":"u1@example.com","username":"u123","password":"long enough","hashed_password":"x"}`, "", 422, "", "body.hashed_password: unexpected property"},
		{"missing email", `{"username":"u123","password":"long enough"}`, "", 422, "", "expected required property email to be present"},
		{"missing everything", `{}`, "", 422, "", "expected required property password to be present"},
		{"display-name email", `{"email":"Bob <b@x.io>","username":"u123","password":"long enough"}`, "", 422, "email: must contain only printable ASCII characters and no spaces", ""},
		{"display-name email without space", `{"email":"Bob<b@x.io>","username":"u123","password":"long enough"}`, "", 422, "email: is not a valid email address", ""},
		{"email without domain dot", `{"email":"a@b","username":"u123","password":"long enough"}`, "", 422, "email: must have a domain name such as example.com", ""},
		{"not an email", `{"email":"nope","username":"u123","password":"long enough"}`, "", 422, "", "body.email: expected string to be RFC 5322 email"},
		{"short password", `{"email":"u1@example.com","username":"u123","password":"short"}`, "", 422, "", "body.password: expected length >= 8"},
		{"73-byte ASCII password", `{"email":"u1@example.com","username":"u123","password":"` + strings.Repeat("p", 73) + `"}`, "", 422, "", "body.password: expected length <= 72"},
		{"73-byte password of 37 characters", `{"email":"u1@example.com","username":"u123","password":"` + strings.Repeat("é", 36) + `p"}`, "", 422, "password: must be at most 72 bytes", ""},
		{"short username", `{"email":"u1@example.com","username":"u","password":"long enough"}`, "", 422, "", "body.username: expected length >= 3"},
		{"username with a space", `{"email":"u1@example.com","username":"u 1","password":"long enough"}`, "", 422, "", "body.username: expected string to be letters, digits"},
		{"wrong type", `{"email":5,"username":"u123","password":"long enough"}`, "", 422, "", "body.email: expected string"},
		{"null body", `null`, "", 422, "", ""},
		{"array body", `[]`, "", 422, "", "expected object"},
		{"malformed JSON", `{"email":`, "", 400, "", "validation failed: body: unexpected end of JSON input"},
		{"trailing garbage", `{"email":"u1@example.com","username":"u123","password":"long enough"} x`, "", 400, "", "validation failed: body:"},
		{"invalid UTF-8", "{\"email\":\"u1@example.com\",\"username\":\"u1\",\"password\":\"long \xff enough\"}", "", 400, "", "body is not valid UTF-8"},
		{"empty body", ``, "application/json", 400, "request body is required", ""},
		{"form body", `email=u1%40example.com&username=u123&password=long+enough`, "application/x-www-form-urlencoded", 415, "", ""},
		{"text body", `{}`, "text/plain", 415, "", ""},
		{"oversize body", `{"email":"` + long + `"}`, "", 413, "", "request body is too large"},
	}
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		srv.register(taken)
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				res := srv.do(req{method: "POST", path: "/api/v1/register", body: tt.body, contentType: tt.contentType})
				body := wantProblem(t, res, tt.status, tt.detail)
				if d, _ := body["detail"].(string); !strings.Contains(d, tt.contains) {
					t.Errorf("detail: got %q, want it to contain %q", d, tt.contains)
				}
				if strings.Contains(string(res.Body), "long enough") {
					t.Errorf("the error body echoes the password: %s", res.Body)
				}
			})
		}
	})
}

func TestLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a := newAccount()
		srv.register(a)
		for _, tt := range []struct {
			name        string
			form        url.Values
			contentType string
		}{
			{"username", url.Values{"username": {a.Username}, "password": {a.Password}}, ""},
			{"username in another case", url.Values{"username": {strings.ToUpper(a.Username)}, "password": {a.Password}}, ""},
			{"email", url.Values{"username": {a.Email}, "password": {a.Password}}, ""},
			{"OAuth2 password grant", url.Values{"grant_type": {"password"}, "scope": {""}, "username": {a.Username}, "password": {a.Password}}, ""},
			{"charset parameter", url.Values{"username": {a.Username}, "password": {a.Password}}, "application/x-www-form-urlencoded; charset=UTF-8"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/x-www-form-urlencoded"
				}
				res := srv.do(req{method: "POST", path: "/api/v1/token", body: tt.form.Encode(), contentType: ct})
				if res.Status != http.StatusOK {
					t.Fatalf("got %v, want 200", res)
				}
				body := res.object(t)
				tok, _ := body["access_token"].(string)
				refresh, _ := body["refresh_token"].(string)
				device, _ := body["device_token"].(string)
				want := map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": float64(1800), "refresh_token": refresh, "device_token": device}
				if diff := cmp.Diff(want, body); diff != "" || tok == "" || len(refresh) < 43 || !strings.HasPrefix(device, "d1.") {
					t.Errorf("token body (-want +got):\n%s", diff)
				}
				if got := res.Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control: got %q, want no-store", got)
				}
				me := srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
				if me.Status != http.StatusOK {
					t.Fatalf("GET /users/me with the new token: got %v, want 200", me)
				}
				wantUserRead(t, me.object(t), a.Email, a.Username, nil)
			})
		}
	})
}

func TestLoginRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a := newAccount()
		srv.register(a)
		form := func(kv ...string) string {
			var b strings.Builder
			for i := 0; i < len(kv); i += 2 {
				if b.Len() > 0 {
					b.WriteByte('&')
				}
				b.WriteString(kv[i] + "=" + kv[i+1])
			}
			return b.String()
		}
		const formType = "application/x-www-form-urlencoded"
		wrongPassword := srv.loginAs(a.Username, "wrong password")
		wantProblem(t, wrongPassword, http.StatusUnauthorized, "incorrect username or password")
		for _, tt := range []struct {
			name        string
			body        string
			contentType string
			status      int
			detail      string
		}{
			{"unknown username", form("username", "nobody", "password", "wrong+password"), formType, 401, "incorrect username or password"},
			{"unknown email", form("username", "nobody%40example.com", "password", "wrong+password"), formType, 401, "incorrect username or password"},
			{"right password of another user's email", form("username", "x"+url.QueryEscape(a.Email), "password", url.QueryEscape(a.Password)), formType, 401, "incorrect username or password"},
			{"over-long username", form("username", strings.Repeat("a", 300), "password", "x"), formType, 401, "incorrect username or password"},
			{"missing username", form("password", "x"), formType, 422, "username: is required"},
			{"empty username", form("username", "", "password", "x"), formType, 422, "username: is required"},
			{"missing password", form("username", a.Username), formType, 422, "password: is required"},
			{"missing both", form("scope", ""), formType, 422, "username: is required; password: is required"},
			{"repeated field", form("username", a.Username, "username", "other", "password", "x"), formType, 422, "username: must be given once"},
			{"other grant type", form("grant_type", "client_credentials", "username", a.Username, "password", "x"), formType, 422, `grant_type: must be "password", "refresh_token", "urn:usersvc:params:oauth:grant-type:mfa-otp", "urn:usersvc:params:oauth:grant-type:mfa-recovery-code" or "urn:usersvc:params:oauth:grant-type:mfa-webauthn"`},
			{"invalid UTF-8", form("username", a.Username, "password", "%ff%fe"), formType, 422, "password: must be valid UTF-8"},
			{"NUL in username", form("username", "a%00b", "password", "x"), formType, 422, "username: must not contain control characters"},
			{"malformed escape", form("username", "%zz", "password", "x"), formType, 400, "the body is not a well-formed application/x-www-form-urlencoded form"},
			{"empty body", "", formType, 400, "request body is required"},
			{"XML body", fmt.Sprintf(`<login username=%q password=%q/>`, a.Username, a.Password), "application/xml", 415, "the body must be application/x-www-form-urlencoded or application/json"},
			{"multipart body", "--x--", "multipart/form-data; boundary=x", 415, "the body must be application/x-www-form-urlencoded or application/json"},
			{"no content type", form("username", a.Username, "password", "x"), "-", 415, "the body must be application/x-www-form-urlencoded or application/json"},
			{"oversize body", form("username", a.Username, "password", strings.Repeat("x", 64<<10)), formType, 413, "request body is too large: the limit is 65536 bytes"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := srv.do(req{method: "POST", path: "/api/v1/token", body: tt.body, contentType: tt.contentType})
				wantProblem(t, res, tt.status, tt.detail)
				if tt.status == http.StatusUnauthorized && string(res.Body) != string(wrongPassword.Body) {
					t.Errorf("body: got %s, want the wrong-password body %s", res.Body, wrongPassword.Body)
				}
			})
		}
	})
}

// TestLoginInactive deactivates an account in the store, behind the
// service's back (its sessions stay): its right password gets the very
// answer of a wrong one, and its token is refused.
func TestLoginInactive(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		a, id := srv.signUp()
		tok := srv.token(a.Username, a.Password)
		wrongPassword := srv.loginAs(a.Username, "wrong password")
		if _, err := srv.Stores.Users.Update(t.Context(), id, user.Patch{IsActive: new(false)}); err != nil {
			t.Fatal(err)
		}

		res := srv.loginAs(a.Username, a.Password)
		wantProblem(t, res, http.StatusUnauthorized, "incorrect username or password")
		if string(res.Body) != string(wrongPassword.Body) {
			t.Errorf("body: got %s, want the wrong-password body %s", res.Body, wrongPassword.Body)
		}
		res = srv.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
		wantProblem(t, res, http.StatusUnauthorized, "could not validate credentials")
	})
}

func TestRegisterConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		srv := newServer(t, kind)
		const n = 20
		email := newAccount().Email
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				a := newAccount()
				a.Email = email
				statuses[i] = srv.do(req{method: "POST", path: "/api/v1/register", body: a.json()}).Status
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if diff := cmp.Diff(map[int]int{201: 1, 400: n - 1}, count); diff != "" {
			t.Errorf("statuses of %d registrations of one email (-want +got):\n%s", n, diff)
		}
	})
}

// TestRepeatedJSONKeysAreRefused sends a body that names a field twice,
// or twice in different cases, which encoding/json takes as one field
// (the last). A proxy or filter that reads the first would see another
// request than the service serves: the email it checks is not the one
// registered. Repeated form fields are refused already; JSON keys now too.
func TestRepeatedJSONKeysAreRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	for _, body := range []string{
		`{"email":"first@example.com","email":"second@example.com","username":"twice1","password":"long enough"}`,
		`{"email":"first@example.com","Email":"second@example.com","username":"twice2","password":"long enough"}`,
		`{"email":"first@example.com","username":"twice3","password":"long enough","USERNAME":"other"}`,
	} {
		res := srv.do(req{method: "POST", path: "/api/v1/register", body: body})
		wantProblem(t, res, http.StatusBadRequest, "")
		if got := string(res.Body); !strings.Contains(got, "repeats the key") {
			t.Errorf("%s: detail %s, want it to name the repeated key", body, got)
		}
	}
	res := srv.do(req{method: "POST", path: "/api/v1/register", body: `{"email":"second@example.com","username":"twice1","password":"long enough"}`})
	if res.Status != http.StatusCreated {
		t.Errorf("the refused bodies registered an account: %v", res)
	}
}

// TestOutOfRangeNumberNamesNoGoType sends a number no float64 holds: the
// 400 used to repeat encoding/json's text, "cannot unmarshal number
// 1e999999 into Go value of type float64", which tells a prober the
// language and types behind the API.
func TestOutOfRangeNumberNamesNoGoType(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	for _, body := range []string{
		`{"email":"big@example.com","username":"bignumber","password":"long enough","full_name":1e999999}`,
		`{"email":"big@example.com","username":"bignumber","password":"long enough","x":[-1e400]}`,
	} {
		res := srv.do(req{method: "POST", path: "/api/v1/register", body: body})
		wantProblem(t, res, http.StatusBadRequest, "")
		for _, leak := range []string{"Go ", "float64", "unmarshal"} {
			if strings.Contains(string(res.Body), leak) {
				t.Errorf("%s: answer %s names the implementation (%q)", body, res.Body, leak)
			}
		}
		if !strings.Contains(string(res.Body), "out of range") {
			t.Errorf("%s: answer %s, want it to say the number is out of range", body, res.Body)
		}
	}
}
