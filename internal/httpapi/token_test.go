package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// TestTokenTakesWhatClientsSend: /token as RFC 6749 asks and as common
// clients send it: client_id (in the form or as an empty-password Basic
// user), unknown parameters (ignored), empty fields (absent: Swagger UI's
// "Try it out" sends the other grant's fields empty), and a JSON body.
func TestTokenTakesWhatClientsSend(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, _ := s.signUp()
		basic := func(id, secret string) http.Header {
			return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
		}
		refresh := s.login(a, nil).refresh
		for _, tt := range []struct {
			name, body, contentType string
			header                  http.Header
			clientID                string // recorded with the login
		}{
			{"client_id in the form", form("username", a.Username, "password", a.Password, "client_id", "my-spa"), formType, nil, "my-spa"},
			{"client id as a Basic user", form("username", a.Username, "password", a.Password), formType, basic("my cli", ""), "my cli"},
			{"empty Basic credentials", form("username", a.Username, "password", a.Password), formType, basic("", ""), ""},
			{"the same client id twice", form("username", a.Username, "password", a.Password, "client_id", "x"), formType, basic("x", ""), "x"},
			{"unknown parameters", form("username", a.Username, "password", a.Password, "is_admin", "1", "nonce", "n", "audience", "api"), formType, nil, ""},
			{"Swagger UI, password grant", form("grant_type", "password", "username", a.Username, "password", a.Password,
				"refresh_token", "", "scope", "", "client_id", "", "client_secret", "", "device_token", ""), formType, nil, ""},
			{"an empty grant_type", form("grant_type", "", "username", a.Username, "password", a.Password), formType, nil, ""},
			{"JSON", fmt.Sprintf(`{"grant_type":"password","username":%q,"password":%q,"client_id":"gen-client","scope":null,"extra":{"x":[1]}}`, a.Username, a.Password), "application/json", nil, "gen-client"},
			{"JSON with empty fields", fmt.Sprintf(`{"username":%q,"password":%q,"refresh_token":"","device_token":""}`, a.Email, a.Password), "application/json; charset=utf-8", nil, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := s.do(req{method: "POST", path: tokenPath, body: tt.body, contentType: tt.contentType, header: tt.header})
				p := s.wantPair(res)
				wantAuditClientID(t, s, p.access, "login.succeeded", tt.clientID)
			})
		}
		t.Run("Swagger UI, refresh grant", func(*testing.T) {
			res := s.do(req{method: "POST", path: tokenPath, contentType: formType,
				body: form("grant_type", "refresh_token", "refresh_token", url.QueryEscape(refresh), "username", "", "password", "", "scope", "")})
			refresh = s.wantPair(res).refresh
		})
		t.Run("JSON refresh grant", func(*testing.T) {
			res := s.do(req{method: "POST", path: tokenPath, body: fmt.Sprintf(`{"grant_type":"refresh_token","refresh_token":%q,"username":""}`, refresh)})
			s.wantPair(res)
		})
	})
}

// TestTokenErrorsAreOAuth2Errors: every refusal of /token carries RFC 6749
// section 5.2's error and error_description beside the design's detail
// and code, with the design's status.
func TestTokenErrorsAreOAuth2Errors(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		s := newServer(t, kind)
		a, _ := s.signUp()
		secret := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("my-app:s3cret"))}}
		for _, tt := range []struct {
			name, body, contentType string
			header                  http.Header
			status                  int
			oauth, detail           string
		}{
			{"wrong password", form("username", a.Username, "password", "nope"), formType, nil, 401, "invalid_grant", "incorrect username or password"},
			{"wrong password as JSON", fmt.Sprintf(`{"username":%q,"password":"nope"}`, a.Username), "application/json", nil, 401, "invalid_grant", "incorrect username or password"},
			{"unknown refresh token", form("grant_type", "refresh_token", "refresh_token", "nope"), formType, nil, 400, "invalid_grant", "the refresh token is invalid, expired or revoked"},
			{"missing password", form("username", a.Username), formType, nil, 422, "invalid_request", "password: is required"},
			{"repeated parameter", form("username", a.Username, "password", "x", "password", "y"), formType, nil, 422, "invalid_request", "password: must be given once"},
			{"repeated client_id", form("username", a.Username, "password", "x", "client_id", "a", "client_id", "b"), formType, nil, 422, "invalid_request", "client_id: must be given once"},
			{"repeated JSON member", fmt.Sprintf(`{"username":%q,"password":"x","password":"y"}`, a.Username), "application/json", nil, 422, "invalid_request", "password: must be given once"},
			{"JSON number", `{"username":5,"password":"x"}`, "application/json", nil, 422, "invalid_request", "username: must be a string; username: is required"},
			{"JSON array body", `[]`, "application/json", nil, 400, "invalid_request", "the body is not a well-formed JSON object"},
			{"JSON with trailing data", `{"username":"a","password":"b"} {}`, "application/json", nil, 400, "invalid_request", "the body is not a well-formed JSON object"},
			{"client_credentials grant", form("grant_type", "client_credentials"), formType, nil, 422, "unsupported_grant_type", `grant_type: must be "password", "refresh_token", "urn:usersvc:params:oauth:grant-type:mfa-otp", "urn:usersvc:params:oauth:grant-type:mfa-recovery-code" or "urn:usersvc:params:oauth:grant-type:mfa-webauthn"`},
			{"authorization_code grant", form("grant_type", "authorization_code", "code", "x"), formType, nil, 422, "unsupported_grant_type", `grant_type: must be "password", "refresh_token", "urn:usersvc:params:oauth:grant-type:mfa-otp", "urn:usersvc:params:oauth:grant-type:mfa-recovery-code" or "urn:usersvc:params:oauth:grant-type:mfa-webauthn"`},
			{"malformed scope", form("username", a.Username, "password", a.Password, "scope", "a%20%20b"), formType, nil, 422, "invalid_scope", ""},
			{"client secret in the form", form("username", a.Username, "password", a.Password, "client_id", "my-app", "client_secret", "s3cret"), formType, nil, 401, "invalid_client", ""},
			{"client secret in Basic", form("username", a.Username, "password", a.Password), formType, secret, 401, "invalid_client", ""},
			{"Basic that does not decode", form("username", a.Username, "password", a.Password), formType, http.Header{"Authorization": {"Basic !!!"}}, 401, "invalid_client", ""},
			{"two client ids", form("username", a.Username, "password", a.Password, "client_id", "a"), formType, http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("b:"))}}, 422, "invalid_request", "client_id: must be the client of the Authorization header"},
			{"client_id with a control character", form("username", a.Username, "password", a.Password, "client_id", "a%01"), formType, nil, 422, "invalid_request", ""},
			{"text body", "username=a", "text/plain", nil, 415, "invalid_request", ""},
			{"oversize declared body", form("username", a.Username, "password", strings.Repeat("x", 64<<10)), formType, nil, 413, "invalid_request", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := s.do(req{method: "POST", path: tokenPath, body: tt.body, contentType: tt.contentType, header: tt.header})
				body := wantOAuthError(t, res, tt.status, tt.oauth, tt.detail)
				if strings.Contains(string(res.Body), "s3cret") || strings.Contains(string(res.Body), a.Password) {
					t.Errorf("the answer echoes a secret: %s", res.Body)
				}
				if tt.status == http.StatusUnprocessableEntity && body["errors"] == nil {
					t.Errorf("a 422 without its field errors: %s", res.Body)
				}
			})
		}
	})
}

// form builds a form body from name, value pairs, the values as given
// (already encoded), so that a test can repeat a name or leave a value
// empty.
func form(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if !strings.Contains(v, "%") {
			v = url.QueryEscape(v)
		}
		parts = append(parts, kv[i]+"="+v)
	}
	return strings.Join(parts, "&")
}

// TestInvalidClientChallengesOnlyAnAuthorizationHeader: over HTTP, a
// client that fails authentication with an "Authorization: Basic" header
// gets 401 with a Basic challenge (RFC 6749 section 5.2); one that sent
// its credentials in the body (client_secret_post, as the docs page's
// try-it-out does) gets 401 without any challenge, which would make a
// browser ask for a password and a fetch-based client hang.
func TestInvalidClientChallengesOnlyAnAuthorizationHeader(t *testing.T) {
	s := newServer(t, apptest.Memory)
	a, _ := s.signUp()
	ts := httptest.NewServer(s.h)
	t.Cleanup(ts.Close)
	login := url.Values{"username": {a.Username}, "password": {a.Password}}
	for _, tt := range []struct {
		name      string
		form      url.Values
		basic     string // user:password of an Authorization: Basic header, "" for none
		challenge string
	}{
		{"secret in the body", with(login, "client_id", "docs-page", "client_secret", "string"), "", ""},
		{"secret in the body without client_id", with(login, "client_secret", "string"), "", ""},
		{"secret by Basic", login, "docs-page:string", `Basic realm="usersvc"`},
		{"Basic that does not decode", login, "!", `Basic realm="usersvc"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, ts.URL+tokenPath, strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", formType)
			switch tt.basic {
			case "":
			case "!":
				r.Header.Set("Authorization", "Basic !!!")
			default:
				r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(tt.basic)))
			}
			res, err := ts.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"error":"invalid_client"`) {
				t.Fatalf("got %d %s, want 401 invalid_client", res.StatusCode, body)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tt.challenge)
			}
		})
	}
}

// with is v and the given name, value pairs.
func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}
