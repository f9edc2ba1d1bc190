package httpapi_test

// Fuzz targets for every parser that sees untrusted input. Each drives the
// real handler (over the in-memory store, so an iteration costs
// microseconds) and checks the properties the issue asks for: no panic
// (logRequests would turn one into a 500), no 5xx, and nothing accepted
// that the user package's validation refuses. `go test` runs the f.Add
// seeds and testdata/fuzz; scripts/fuzz explores further.

import (
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/user"
)

// tokenTB logs in and returns the access token.
func (s *server) tokenTB(tb testing.TB, login, password string) string {
	tb.Helper()
	form := url.Values{"username": {login}, "password": {password}}.Encode()
	res := s.doTB(tb, req{method: "POST", path: "/api/v1/token", body: form, contentType: "application/x-www-form-urlencoded"})
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &out) != nil {
		tb.Fatalf("login %s: got %v, want 200", login, res)
	}
	return out.AccessToken
}

// hostileStrings seed every target: injection strings, control and
// look-alike characters, broken encodings, odd numbers.
var hostileStrings = []string{
	"", " ", "\x00", "\xff\xfe", "\xed\xa0\x80", "a\u0000b", "' OR '1'='1' --", "admin'--",
	"\"; DROP TABLE users; --", "{{7*7}}", "${7*7}", "<script>alert(1)</script>",
	"аda@example.com", "ADA@EXAMPLE.COM", "ada@exa\u200bmple.com", "ada@example.com\n",
	"Ada <ada@example.com>", "a@b", "a@[127.0.0.1]", strings.Repeat("a", 300) + "@example.com",
	"1e999999", "-0", "9223372036854775808", "\\ud800", `\u0000`,
}

// validAccount is the body of a registration that succeeds.
const validAccount = `{"email":"ada@example.com","username":"ada","password":"correct horse"}`

func fuzzStatus(t *testing.T, what string, res response) {
	t.Helper()
	if res.Status >= 500 {
		t.Fatalf("%s: got %v, want no 5xx", what, res)
	}
	if res.Status >= 400 {
		var body struct{ Detail, Code *string }
		if err := json.Unmarshal(res.Body, &body); err != nil || body.Detail == nil || body.Code == nil || !codePattern.MatchString(*body.Code) {
			t.Fatalf("%s: error body %q is not JSON with a detail and a code", what, res.Body)
		}
	}
}

func FuzzRegister(f *testing.F) {
	for _, s := range []string{
		validAccount,
		`{"email":"ada@example.com","username":"ada","password":"correct horse","extra":1}`,
		`{"email":"ada@example.com","username":"ada","password":"short"}`,
		`{"email":"ada@example.com","username":"ada","password":"` + strings.Repeat("é", 40) + `"}`,
		`{"EMAIL":"ada@example.com","Username":"ada","password":"correct horse"}`,
		`{"email":"ada@example.com","email":"bob@example.com","username":"ada","password":"correct horse"}`,
		`{"email":["x"],"username":{"a":1},"password":1e999}`,
		`{"email":"ada@example.com","username":"ada","password":"\ud800\udc00correct"}`,
		strings.Repeat("[", 10000), `null`, `[]`, `"x"`, `{}`,
	} {
		f.Add(s)
	}
	for _, h := range hostileStrings {
		b, _ := json.Marshal(map[string]string{"email": h, "username": h, "password": h})
		f.Add(string(b))
	}
	s := newServerTB(f, apptest.Memory)
	f.Fuzz(func(t *testing.T, body string) {
		res := s.doTB(t, req{method: "POST", path: "/api/v1/register", body: body})
		fuzzStatus(t, "register", res)
		if res.Status != http.StatusCreated {
			return
		}
		var in struct{ Email, Username, Password string }
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatalf("register accepted %q, which is not JSON: %v", body, err)
		}
		if err := user.ValidateEmail(in.Email); err != nil {
			t.Fatalf("register accepted %q: %v", body, err)
		}
		if err := user.ValidateUsername(in.Username); err != nil {
			t.Fatalf("register accepted %q: %v", body, err)
		}
		if err := user.ValidatePassword("password", in.Password); err != nil {
			t.Fatalf("register accepted %q: %v", body, err)
		}
		var out map[string]any
		if err := json.Unmarshal(res.Body, &out); err != nil || out["email"] != in.Email || out["username"] != in.Username {
			t.Fatalf("register stored %s for request %q", res.Body, body)
		}
		if strings.Contains(string(res.Body), "password") || strings.Contains(string(res.Body), "$2a$") {
			t.Fatalf("register answered a password or hash: %s", res.Body)
		}
	})
}

func FuzzTokenForm(f *testing.F) {
	const form = "application/x-www-form-urlencoded"
	f.Add(form, "username=ada&password=correct+horse")
	f.Add(form, "username=ada%40example.com&password=correct+horse&grant_type=password&scope=")
	f.Add(form, "username=ADA&password=correct+horse")
	f.Add(form, "username=ada&password=correct+horse&password=x")
	f.Add(form, "username=ada&password=%ff")
	f.Add(form, "username=%00&password=x")
	f.Add(form, "username=ada&password=correct+horse&grant_type=client_credentials")
	f.Add(form, "%zz")
	f.Add(form+"; charset=utf-8", "username=ada&password=correct+horse")
	f.Add("application/json", `{"username":"ada","password":"correct horse"}`)
	// Media types are case-insensitive and may carry spaces and parameters.
	f.Add("Application/JSON", `{"username":"AdA","password":"correct horse"}`)
	f.Add(" application/json ; charset=utf-8", `{"username":"ada","password":"correct horse"}`)
	f.Add("", "username=ada&password=correct+horse")
	f.Add("multipart/form-data; boundary=x", "--x\r\n")
	for _, h := range hostileStrings {
		f.Add(form, url.Values{"username": {h}, "password": {h}}.Encode())
	}
	s := newServerTB(f, apptest.Memory)
	if res := s.doTB(f, req{method: "POST", path: "/api/v1/register", body: validAccount}); res.Status != http.StatusCreated {
		f.Fatalf("register: %v", res)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		if contentType == "" {
			contentType = "-"
		}
		res := s.doTB(t, req{method: "POST", path: "/api/v1/token", body: body, contentType: contentType})
		fuzzStatus(t, "token", res)
		if res.Status != http.StatusOK {
			return
		}
		var username, password string
		// The body is read as the server reads it: by its media type.
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("token accepted malformed JSON %q", body)
			}
			username, _ = v["username"].(string)
			password, _ = v["password"].(string)
		} else {
			values, err := url.ParseQuery(body)
			if err != nil {
				t.Fatalf("token accepted malformed form %q", body)
			}
			username, password = values.Get("username"), values.Get("password")
		}
		login := strings.ToLower(username)
		if (login != "ada" && login != "ada@example.com") || password != "correct horse" {
			t.Fatalf("token accepted %q, which names no account's credentials", body)
		}
	})
}

func FuzzUpdateMe(f *testing.F) {
	for _, s := range []string{
		`{"full_name":"Ada Lovelace"}`, `{"full_name":""}`, `{"email":"ada2@example.com"}`, `{}`,
		`{"full_name":null}`, `{"full_name":"a\u0007b"}`, `{"full_name":"` + strings.Repeat("é", 256) + `"}`,
		`{"email":"Ada <ada@example.com>"}`, `{"id":"x"}`, `{"is_active":false}`,
	} {
		f.Add(s)
	}
	for _, h := range hostileStrings {
		b, _ := json.Marshal(map[string]string{"full_name": h})
		f.Add(string(b))
		b, _ = json.Marshal(map[string]string{"email": h})
		f.Add(string(b))
	}
	s := newServerTB(f, apptest.Memory)
	s.doTB(f, req{method: "POST", path: "/api/v1/register", body: validAccount})
	token := s.tokenTB(f, "ada", "correct horse")
	f.Fuzz(func(t *testing.T, body string) {
		res := s.doTB(t, req{method: "PUT", path: "/api/v1/users/me", body: body, token: token})
		fuzzStatus(t, "update", res)
		if res.Status != http.StatusOK {
			if res.Status == http.StatusUnauthorized {
				t.Fatalf("update with a good token: %v", res)
			}
			return
		}
		var out struct {
			Email    string `json:"email"`
			FullName string `json:"full_name"`
			IsActive bool   `json:"is_active"`
		}
		if err := json.Unmarshal(res.Body, &out); err != nil {
			t.Fatal(err)
		}
		if err := user.ValidateEmail(out.Email); err != nil {
			t.Fatalf("update %q stored email %q: %v", body, out.Email, err)
		}
		if err := user.ValidateFullName(out.FullName); err != nil {
			t.Fatalf("update %q stored full_name %q: %v", body, out.FullName, err)
		}
		if !out.IsActive {
			t.Fatalf("update %q deactivated the account", body)
		}
	})
}

func FuzzChangePassword(f *testing.F) {
	f.Add(`{"current_password":"correct horse","new_password":"battery staple"}`)
	f.Add(`{"current_password":"wrong horse","new_password":"battery staple"}`)
	f.Add(`{"current_password":"correct horse","new_password":"short"}`)
	f.Add(`{"current_password":"correct horse","new_password":"correct horse"}`)
	f.Add(`{"current_password":"correct horse","new_password":"` + strings.Repeat("x", 73) + `"}`)
	f.Add(`{"current_password":"correct horse"}`)
	for _, h := range hostileStrings {
		b, _ := json.Marshal(map[string]string{"current_password": "correct horse", "new_password": h})
		f.Add(string(b))
	}
	s := newServerTB(f, apptest.Memory)
	s.doTB(f, req{method: "POST", path: "/api/v1/register", body: validAccount})
	password := "correct horse"
	token := s.tokenTB(f, "ada", password)
	f.Fuzz(func(t *testing.T, body string) {
		res := s.doTB(t, req{method: "PUT", path: "/api/v1/users/me/password", body: body, token: token})
		fuzzStatus(t, "change password", res)
		if res.Status != http.StatusNoContent {
			return
		}
		var in struct {
			Current string `json:"current_password"`
			New     string `json:"new_password"`
		}
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatalf("change password accepted non-JSON %q", body)
		}
		if in.Current != password {
			t.Fatalf("change password accepted %q without the current password", body)
		}
		if err := user.ValidatePassword("new_password", in.New); err != nil {
			t.Fatalf("change password accepted %q: %v", body, err)
		}
		if got := s.doTB(t, req{method: "GET", path: "/api/v1/users/me", token: token}); got.Status != http.StatusUnauthorized {
			t.Fatalf("the token from before the change still works: %v", got)
		}
		password = in.New
		token = s.tokenTB(t, "ada", password)
	})
}

func FuzzBearerToken(f *testing.F) {
	s := newServerTB(f, apptest.Memory)
	s.doTB(f, req{method: "POST", path: "/api/v1/register", body: validAccount})
	token := s.tokenTB(f, "ada", "correct horse")
	for _, h := range []string{
		"Bearer " + token, "bearer " + token, "BEARER  " + token + " ", "Bearer " + token + "x",
		"Basic " + token, "Bearer", "Bearer ", token, "Bearer " + strings.Repeat("A", 8000),
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwIn0.",
		"Bearer " + strings.Replace(token, ".", "..", 1), "Bearer a.b.c", "Bearer \x00",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		res := s.doTB(t, req{method: "GET", path: "/api/v1/users/me", header: http.Header{"Authorization": {header}}})
		fuzzStatus(t, "users/me", res)
		switch res.Status {
		case http.StatusOK:
			scheme, rest, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) != token {
				t.Fatalf("users/me accepted Authorization %q", header)
			}
		case http.StatusUnauthorized:
			if res.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 without the Bearer challenge: %v", res)
			}
		default:
			t.Fatalf("users/me with Authorization %q: got %v, want 200 or 401", header, res)
		}
	})
}

func FuzzRequestHeaders(f *testing.F) {
	for _, h := range []string{"abc", "req-1.2_3", strings.Repeat("a", 64), strings.Repeat("a", 65), "", " ", "a b",
		"a\nb", "\x00", "é", `"><script>`, "1.2.3.4", "1.2.3.4, 5.6.7.8", "unknown", "::1", "[::1]:80"} {
		f.Add(h, h)
	}
	s := newServerTB(f, apptest.Memory)
	f.Fuzz(func(t *testing.T, requestID, forwardedFor string) {
		h := http.Header{"X-Request-Id": {requestID}, "X-Forwarded-For": {forwardedFor}}
		res := s.doTB(t, req{method: "GET", path: "/healthz", header: h})
		if res.Status != http.StatusOK {
			t.Fatalf("healthz with X-Request-ID %q, X-Forwarded-For %q: got %v", requestID, forwardedFor, res)
		}
		got := res.Header.Get("X-Request-ID")
		if got == requestID {
			if !validRequestIDForTest(requestID) {
				t.Fatalf("echoed an invalid X-Request-ID %q", requestID)
			}
			return
		}
		if validRequestIDForTest(requestID) {
			t.Fatalf("replaced a valid X-Request-ID %q with %q", requestID, got)
		}
		if b, err := hex.DecodeString(got); err != nil || len(b) != 16 {
			t.Fatalf("generated X-Request-ID %q is not 32 hex digits", got)
		}
	})
}

// validRequestIDForTest is the README's rule: 1-64 of A-Z a-z 0-9 . _ -
func validRequestIDForTest(id string) bool {
	if id == "" || len(id) > 64 || !utf8.ValidString(id) {
		return false
	}
	return strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == ""
}
