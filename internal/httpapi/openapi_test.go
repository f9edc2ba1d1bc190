package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/internal/app/apptest"
)

// openAPI is the part of the document the tests read.
type openAPI struct {
	Paths map[string]map[string]struct {
		Security    []map[string][]string `json:"security"`
		RequestBody *struct {
			Required bool `json:"required"`
			Content  map[string]struct {
				Schema struct {
					Ref string `json:"$ref"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Required             []string       `json:"required"`
			Properties           map[string]any `json:"properties"`
			AdditionalProperties bool           `json:"additionalProperties"`
		} `json:"schemas"`
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	srv := newServer(t, apptest.Memory)
	res := srv.do(req{method: "GET", path: "/openapi.json"})
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/openapi+json" {
		t.Fatalf("GET /openapi.json: got %d %q, want 200 application/openapi+json", res.Status, res.Header.Get("Content-Type"))
	}
	var doc openAPI
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatal(err)
	}

	password := map[string]any{"tokenUrl": "/api/v1/token", "refreshUrl": "/api/v1/token", "scopes": map[string]any{}}
	wantScheme := map[string]map[string]any{
		"bearerAuth":     {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
		"oauth2Password": {"type": "oauth2", "flows": map[string]any{"password": password}},
	}
	if diff := cmp.Diff(wantScheme, doc.Components.SecuritySchemes, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == `["description"]`
	}, cmp.Ignore())); diff != "" {
		t.Errorf("security schemes (-want +got):\n%s", diff)
	}

	// Either scheme: a bearer token, or the password flow that gets one.
	bearer := []map[string][]string{{"bearerAuth": {}}, {"oauth2Password": {}}}
	public := []map[string][]string{} // security: [], not absent
	for _, tt := range []struct {
		path, method string
		security     []map[string][]string
		bodyType     string // the only request content type, "" for none
		bodySchema   string
	}{
		{"/api/v1/register", "post", public, "application/json", "UserCreate"},
		{"/api/v1/token", "post", public, "application/x-www-form-urlencoded", "TokenForm"},
		{"/api/v1/users/me", "get", bearer, "", ""},
		{"/api/v1/users/me", "put", bearer, "application/json", "UserUpdate"},
		{"/api/v1/users/me", "delete", bearer, "", ""},
		{"/api/v1/users/me/password", "put", bearer, "application/json", "PasswordUpdate"},
		{"/api/v1/logout", "post", bearer, "", ""},
		{"/api/v1/users/me/sessions", "get", bearer, "", ""},
		{"/api/v1/users/me/sessions/{id}", "delete", bearer, "", ""},
		{"/api/v1/users/me/consents", "get", bearer, "", ""},
		{"/api/v1/users/me/consents/{client_id}", "delete", bearer, "", ""},
		{"/api/v1/admin/audit", "get", bearer, "", ""},
		{"/api/v1/users/me/audit", "get", bearer, "", ""},
		{"/api/v1/users/me/export", "get", bearer, "", ""},
		{"/api/v1/admin/users", "get", bearer, "", ""},
		{"/api/v1/admin/users/{id}", "get", bearer, "", ""},
		{"/api/v1/admin/users/{id}", "patch", bearer, "application/json", "AdminUserUpdate"},
		{"/api/v1/admin/users/{id}", "delete", bearer, "", ""},
		{"/api/v1/admin/users/{id}/deactivate", "post", bearer, "", ""},
		{"/api/v1/admin/users/{id}/reactivate", "post", bearer, "", ""},
		{"/api/v1/admin/jobs", "get", bearer, "", ""},
		{"/api/v1/admin/jobs/{id}/retry", "post", bearer, "", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op, ok := doc.Paths[tt.path][tt.method]
			if !ok {
				t.Fatalf("no operation %s %s", tt.method, tt.path)
			}
			if diff := cmp.Diff(tt.security, op.Security); diff != "" {
				t.Errorf("security (-want +got):\n%s", diff)
			}
			if tt.bodyType == "" {
				if op.RequestBody != nil {
					t.Errorf("request body: got %+v, want none", op.RequestBody)
				}
				return
			}
			var types []string
			for ct := range op.RequestBody.Content {
				types = append(types, ct)
			}
			slices.Sort(types)
			want := []string{tt.bodyType}
			if tt.path == "/api/v1/token" { // the same fields as JSON too
				want = []string{"application/json", tt.bodyType}
			}
			if diff := cmp.Diff(want, types); diff != "" || !op.RequestBody.Required {
				t.Errorf("request body content types (-want +got):\n%s; required %v", diff, op.RequestBody.Required)
			}
			if got, want := op.RequestBody.Content[tt.bodyType].Schema.Ref, "#/components/schemas/"+tt.bodySchema; got != want {
				t.Errorf("request body schema: got %q, want %q", got, want)
			}
		})
	}

	for _, tt := range []struct {
		schema   string
		required []string
	}{
		{"UserCreate", []string{"email", "username", "password"}},
		{"TokenForm", nil}, // which fields are required depends on grant_type
		{"PasswordUpdate", []string{"current_password", "new_password"}},
		{"UserUpdate", nil},
		{"AdminUserUpdate", nil},
		{"UserList", []string{"items", "next_cursor"}},
		{"UserRead", []string{"id", "email", "username", "full_name", "is_active", "email_verified", "role", "created_at", "updated_at"}},
		{"Token", []string{"access_token", "token_type", "expires_in", "refresh_token"}},
		{"AuditEventRead", []string{"id", "at", "kind", "actor_id", "subject_id", "ip", "user_agent", "request_id", "detail"}},
		{"AuditPage", []string{"items", "next_cursor"}},
		{"UserExport", []string{"exported_at", "profile", "sessions", "passkeys", "second_factors", "email_changes", "pending_links", "app_consents", "app_grants", "audit_events"}},
	} {
		s := doc.Components.Schemas[tt.schema]
		if diff := cmp.Diff(tt.required, s.Required); diff != "" {
			t.Errorf("%s required (-want +got):\n%s", tt.schema, diff)
		}
		if s.AdditionalProperties {
			t.Errorf("%s allows additional properties", tt.schema)
		}
	}
	for name := range doc.Components.Schemas["UserRead"].Properties {
		if strings.Contains(name, "password") || strings.Contains(name, "hash") || strings.Contains(name, "version") {
			t.Errorf("UserRead documents %q", name)
		}
	}
	if strings.Contains(string(res.Body), "$schema") {
		t.Errorf("the document adds $schema properties")
	}

	yaml := srv.do(req{method: "GET", path: "/openapi.yaml"})
	if yaml.Status != http.StatusOK || !strings.Contains(string(yaml.Body), "bearerFormat: JWT") {
		t.Errorf("GET /openapi.yaml: got %d %.80q, want 200 and the document", yaml.Status, yaml.Body)
	}
}

// TestDocumentAndServerAgree walks the served OpenAPI document: every
// operation it lists is routed (never 404 or 405), documents its success
// status, 500 and, when it takes a token, 401; and the operations the
// server has that it does not list are only the non-JSON ones.
func TestDocumentAndServerAgree(t *testing.T) {
	t.Parallel()
	// With a public URL, or the discovery documents answer 404.
	srv := newServer(t, apptest.Memory, apptest.Env("USERSVC_PUBLIC_URL", "https://auth.example.com"))
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(srv.do(req{method: "GET", path: "/openapi.json"}).Body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // operation -> success status
		"POST /api/v1/register": "201", "POST /api/v1/token": "200",
		"GET /api/v1/users/me": "200", "PUT /api/v1/users/me": "200", "DELETE /api/v1/users/me": "204",
		"PUT /api/v1/users/me/password": "204",
		"GET /healthz":                  "200", "GET /readyz": "200",
		"GET /.well-known/jwks.json": "200",
		"POST /api/v1/logout":        "204", "GET /api/v1/users/me/sessions": "200",
		"DELETE /api/v1/users/me/sessions/{id}": "204",
		"GET /api/v1/users/me/consents":         "200", "DELETE /api/v1/users/me/consents/{client_id}": "204", // consents.go
		"GET /api/v1/admin/audit": "200", "GET /api/v1/users/me/audit": "200", "GET /api/v1/users/me/export": "200",
		"GET /api/v1/admin/users": "200", "GET /api/v1/admin/users/{id}": "200",
		"PATCH /api/v1/admin/users/{id}": "200", "DELETE /api/v1/admin/users/{id}": "204",
		"POST /api/v1/admin/users/{id}/deactivate": "200", "POST /api/v1/admin/users/{id}/reactivate": "200",
		"GET /api/v1/admin/jobs": "200", "POST /api/v1/admin/jobs/{id}/retry": "200", // jobs.go
		// lifecycle.go
		"POST /api/v1/verify-email": "200", "POST /api/v1/verify-email/resend": "202",
		"POST /api/v1/reauthenticate": "204", "POST /api/v1/email-change/undo": "204",
		"POST /api/v1/password-reset": "202", "POST /api/v1/password-reset/confirm": "204",
		// discovery.go, revoke.go
		"GET /.well-known/oauth-authorization-server": "200", "GET /.well-known/openid-configuration": "200",
		"POST /api/v1/revoke": "200",
		// webhooks.go
		"POST /api/v1/admin/webhooks": "201", "GET /api/v1/admin/webhooks": "200",
		"GET /api/v1/admin/webhooks/{id}": "200", "PATCH /api/v1/admin/webhooks/{id}": "200",
		"DELETE /api/v1/admin/webhooks/{id}": "204", "POST /api/v1/admin/webhooks/{id}/rotate-secret": "200",
		"POST /api/v1/admin/webhooks/{id}/test": "200", "GET /api/v1/admin/webhooks/{id}/deliveries": "200",
		"POST /api/v1/admin/webhooks/{id}/deliveries/{delivery}/replay": "200",
		// passkeys.go
		"POST /api/v1/users/me/passkeys/register/options": "200", "POST /api/v1/users/me/passkeys/register/verify": "201",
		"GET /api/v1/users/me/passkeys": "200", "PATCH /api/v1/users/me/passkeys/{id}": "200",
		"DELETE /api/v1/users/me/passkeys/{id}": "204",
		"POST /api/v1/passkeys/login/options":   "200", "POST /api/v1/passkeys/login/verify": "200",
		"POST /api/v1/mfa/webauthn/options": "200",
		// mfa.go
		"GET /api/v1/users/me/mfa": "200", "POST /api/v1/users/me/mfa/totp": "201",
		"POST /api/v1/users/me/mfa/totp/confirm": "200", "DELETE /api/v1/users/me/mfa/totp": "204",
		"POST /api/v1/users/me/mfa/recovery-codes": "200", "DELETE /api/v1/admin/users/{id}/mfa": "204",
		// oauthclients.go
		"POST /api/v1/admin/clients": "201", "GET /api/v1/admin/clients": "200",
		"GET /api/v1/admin/clients/{id}": "200", "PATCH /api/v1/admin/clients/{id}": "200",
		"DELETE /api/v1/admin/clients/{id}": "204", "POST /api/v1/admin/clients/{id}/rotate-secret": "200",
	}
	seen := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			seen[key] = true
			success, ok := want[key]
			if !ok {
				t.Errorf("the document lists %s, which the contract does not have", key)
				continue
			}
			for _, status := range []string{success, "500"} {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s does not document %s", key, status)
				}
			}
			if len(op.Security) > 0 {
				if _, ok := op.Responses["401"]; !ok {
					t.Errorf("%s needs a token but does not document 401", key)
				}
			}
			if strings.HasPrefix(path, "/api/v1/admin/") {
				if _, ok := op.Responses["403"]; !ok {
					t.Errorf("%s is for administrators but does not document 403", key)
				}
			}
			res := srv.do(req{method: strings.ToUpper(method), path: path})
			if res.Status == http.StatusNotFound || res.Status == http.StatusMethodNotAllowed {
				t.Errorf("%s is documented but the server answers %d", key, res.Status)
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("the server serves %s but the document does not list it", key)
		}
	}
	if _, ok := doc.Paths["/api/v1/admin/audit"]["get"].Responses["403"]; !ok {
		t.Error("GET /api/v1/admin/audit does not document 403")
	}
	if _, ok := doc.Paths["/api/v1/admin/audit"]["get"].Responses["422"]; !ok {
		t.Error("GET /api/v1/admin/audit does not document 422 (bad filters or cursor)")
	}
	if _, ok := doc.Paths["/readyz"]["get"].Responses["503"]; !ok {
		t.Error("GET /readyz does not document 503")
	}
}
