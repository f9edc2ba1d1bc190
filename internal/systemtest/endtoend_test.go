package systemtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEndToEnd walks the README's story against the binary on each
// database: register, log in, read and change the account, change the
// password (which ends the old token), delete the account; then a clean
// exit on SIGTERM, with none of the secrets in the logs.
func TestEndToEnd(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			srv := start(t, db.environ(t)...)
			api := srv.base + "/api/v1"

			var created struct{ ID, Email, Username string }
			if got := call(t, "POST", api+"/register", "", "application/json",
				`{"email":"ada@example.com","username":"ada","password":"correct horse"}`, &created); got != http.StatusCreated {
				t.Fatalf("register: status %d, want 201", got)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			form := url.Values{"username": {"ada"}, "password": {"correct horse"}}.Encode()
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK || tok.TokenType != "bearer" {
				t.Fatalf("token: status %d, type %q; want 200, bearer", got, tok.TokenType)
			}
			var me struct{ ID, Email string }
			if got := call(t, "GET", api+"/users/me", tok.AccessToken, "", "", &me); got != http.StatusOK || me.ID != created.ID {
				t.Fatalf("me: status %d, id %q; want 200, %q", got, me.ID, created.ID)
			}
			var updated struct {
				FullName string `json:"full_name"`
			}
			if got := call(t, "PUT", api+"/users/me", tok.AccessToken, "application/json", `{"full_name":"Ada Lovelace"}`, &updated); got != http.StatusOK || updated.FullName != "Ada Lovelace" {
				t.Fatalf("update: status %d, full_name %q", got, updated.FullName)
			}
			if got := call(t, "PUT", api+"/users/me/password", tok.AccessToken, "application/json",
				`{"current_password":"correct horse","new_password":"battery staple"}`, nil); got != http.StatusNoContent {
				t.Fatalf("password: status %d, want 204", got)
			}
			if got := call(t, "GET", api+"/users/me", tok.AccessToken, "", "", nil); got != http.StatusUnauthorized {
				t.Fatalf("me with the pre-change token: status %d, want 401", got)
			}
			form = url.Values{"username": {"ada@example.com"}, "password": {"battery staple"}}.Encode()
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, &tok); got != http.StatusOK {
				t.Fatalf("token with the new password: status %d, want 200", got)
			}
			if got := call(t, "DELETE", api+"/users/me", tok.AccessToken, "", "", nil); got != http.StatusNoContent {
				t.Fatalf("delete: status %d, want 204", got)
			}
			if got := call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form, nil); got != http.StatusUnauthorized {
				t.Fatalf("token after delete: status %d, want 401", got)
			}
			if err := srv.stop(t); err != nil {
				t.Fatalf("exit after SIGTERM: %v, want status 0 (clean shutdown)", err)
			}
			for _, secret := range []string{"correct horse", "battery staple", tok.AccessToken} {
				if strings.Contains(srv.logs(), secret) {
					t.Errorf("the logs contain a secret (%q)", secret)
				}
			}
		})
	}
}

// TestLogsNeverHoldSecrets drives every endpoint, successes and failures,
// with known secrets at the most verbose log level, then searches the logs.
func TestLogsNeverHoldSecrets(t *testing.T) {
	// Mail goes to an SMTP server, not to the development log mailer, which
	// logs the messages (tokens included) by design.
	mailEnv, _ := smtpEnv(t)
	srv := start(t, append([]string{"USERSVC_LOG_LEVEL=debug"}, mailEnv...)...)
	api := srv.base + "/api/v1"
	const (
		password  = "Secret-Pa55word-One"
		password2 = "Secret-Pa55word-Two"
		bodyMark  = "Body-Marker-Full-Name"
	)
	form := func(user, pass string) string { return url.Values{"username": {user}, "password": {pass}}.Encode() }
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call(t, "POST", api+"/register", "", "application/json", `{"email":"sec@example.com","username":"sec","password":"`+password+`"}`, nil)
	call(t, "POST", api+"/register", "", "application/json", `{"email":"sec@example.com","username":"sec","password":"`+password+`"}`, nil)        // 400
	call(t, "POST", api+"/register", "", "application/json", `{"email":"x@example.com","username":"x1","password":"`+password+`","extra":1}`, nil) // 422
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec", password2), nil)                                            // 401
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec", password), &tok)
	call(t, "GET", api+"/users/me", tok.AccessToken, "", "", nil)
	call(t, "GET", api+"/users/me", tok.AccessToken+"x", "", "", nil) // 401
	call(t, "PUT", api+"/users/me", tok.AccessToken, "application/json", `{"full_name":"`+bodyMark+`"}`, nil)
	call(t, "PUT", api+"/users/me/password", tok.AccessToken, "application/json", `{"current_password":"`+password2+`","new_password":"`+password+`"}`, nil) // 400
	call(t, "PUT", api+"/users/me/password", tok.AccessToken, "application/json", `{"current_password":"`+password+`","new_password":"`+password2+`"}`, nil)
	call(t, "POST", api+"/token", "", "application/x-www-form-urlencoded", form("sec@example.com", password2), &tok)
	call(t, "DELETE", api+"/users/me", tok.AccessToken, "", "", nil)
	for _, p := range []string{"/healthz", "/readyz", "/version", "/metrics", "/openapi.json", "/docs/"} {
		call(t, "GET", srv.base+p, "", "", "", nil)
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}

	logs := srv.logs()
	if strings.Count(logs, `"msg":"request"`) < 18 {
		t.Fatalf("expected an access-log line per request, got:\n%s", logs)
	}
	for _, secret := range []string{password, password2, bodyMark, tok.AccessToken, "Bearer", "Authorization", "eyJ"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if entry["msg"] == "request" && entry["request_id"] == nil {
			t.Errorf("access-log line without request_id: %s", line)
		}
	}
}
