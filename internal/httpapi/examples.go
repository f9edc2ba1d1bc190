package httpapi

import (
	"github.com/danielgtaylor/huma/v2"
)

// The examples of the document: each is valid as it is, and the contract
// test sends every one (TestDocumentExamplesSucceed). Values that only the
// service can mint (tokens from mail, ids) are well-formed placeholders,
// answered with the documented business error (400 invalid_token, 404).

// exampleBodies are the request body examples, by "METHOD path".
var exampleBodies = map[string]any{
	"POST /api/v1/register":                  map[string]any{"email": "ada@example.com", "username": "ada", "password": examplePassword},
	"PUT /api/v1/users/me":                   map[string]any{"full_name": "Ada Lovelace"},
	"PUT /api/v1/users/me/password":          map[string]any{"current_password": examplePassword, "new_password": "seven orange lanterns"},
	"PATCH /api/v1/admin/users/{id}":         map[string]any{"full_name": "Ada Lovelace", "role": "user"},
	"POST /api/v1/verify-email":              map[string]any{"token": exampleMailToken},
	"POST /api/v1/password-reset":            map[string]any{"email": "ada@example.com"},
	"POST /api/v1/password-reset/confirm":    map[string]any{"token": exampleMailToken, "new_password": "seven orange lanterns"},
	"POST /api/v1/reauthenticate":            map[string]any{"password": examplePassword},
	"POST /api/v1/email-change/undo":         map[string]any{"token": exampleMailToken},
	"POST /api/v1/users/me/mfa/totp/confirm": map[string]any{"code": "123456"},
	"POST /api/v1/admin/webhooks": map[string]any{
		"url": "https://hooks.example.com/usersvc", "types": []string{"user.created", "user.deleted"}, "description": "billing",
	},
	"PATCH /api/v1/admin/webhooks/{id}": map[string]any{"enabled": false},
	"POST /api/v1/admin/clients": map[string]any{
		"name": "Reporting service", "confidential": true, "grant_types": []string{"client_credentials"}, "scopes": []string{"users:read", "audit:read"},
	},
	"PATCH /api/v1/admin/clients/{id}":                map[string]any{"scopes": []string{"users:read"}},
	"POST /api/v1/users/me/passkeys/register/options": map[string]any{"current_password": examplePassword},
	"POST /api/v1/users/me/passkeys/register/verify":  map[string]any{"ceremony": exampleCeremony, "name": "Laptop", "credential": exampleAttestation},
	"PATCH /api/v1/users/me/passkeys/{id}":            map[string]any{"name": "Laptop"},
	"POST /api/v1/passkeys/login/verify":              map[string]any{"ceremony": exampleCeremony, "credential": exampleAssertion},
	"POST /api/v1/mfa/webauthn/options":               map[string]any{"mfa_token": exampleMailToken},
}

// The example account's password, and a refresh token of the right shape
// (placeholders of the document, no credentials).
const (
	examplePassword     = "purple kettle drums 91"                      //nolint:gosec // a documented example
	exampleRefreshToken = "kgDy4Jfd12oPwEsXjw5VsGgXKarIWbEfpdkL6fzaDjA" //nolint:gosec // a documented placeholder
)

// exampleMailToken stands for the token of an account mail.
const exampleMailToken = "Vb3dKx0hM1o6nYt2QpWc9sLr4eUa8ZgFjH5iTkNwXyE" //nolint:gosec // a documented placeholder, no credential

// exampleCeremony stands for the handle of a begun passkey ceremony.
const exampleCeremony = "J7RZ3XKQ5WQ2M6DLBVYF4TQK2C" //nolint:gosec // a documented placeholder, no credential

// exampleAttestation and exampleAssertion have the shape of a
// PublicKeyCredential's toJSON() after navigator.credentials.create and
// .get (placeholders: they verify nothing).
var (
	exampleAttestation = map[string]any{
		"id": "AQIDBAUGBwgJCgsMDQ4PEA", "rawId": "AQIDBAUGBwgJCgsMDQ4PEA", "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0",
			"attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVgk",
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}
	exampleAssertion = map[string]any{
		"id": "AQIDBAUGBwgJCgsMDQ4PEA", "rawId": "AQIDBAUGBwgJCgsMDQ4PEA", "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
			"authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
			"signature":         "MEUCIQCsignatureplaceholder",
			"userHandle":        "AZPNKp5-dsaMg0bB4ShuEg",
		},
		"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	}
)

// exampleParams are the parameter examples, by name.
var exampleParams = map[string]any{
	"id":              exampleID,
	"limit":           20,
	"scope":           "all",
	"email_prefix":    "ada",
	"username_prefix": "ad",
	"search":          "lovelace",
	"is_active":       "true",
	"role":            "user",
	"subject_id":      exampleID,
	"actor_id":        exampleID,
	"delivery":        exampleID,
	"client_id":       "photo-album",
}

// documentExamples adds the examples of the operation at path.
func documentExamples(path, method string, op *huma.Operation) {
	for _, p := range op.Parameters {
		// The examples are strings: a parameter of another type (a job's
		// numeric id) takes the example of its own schema.
		switch v, ok := exampleParams[p.Name]; {
		case p.Example != nil:
		case p.Schema != nil && p.Schema.Type != "string" && len(p.Schema.Examples) > 0:
			p.Example = p.Schema.Examples[0]
		case ok:
			p.Example = v
		}
	}
	if v, ok := exampleBodies[method+" "+path]; ok && op.RequestBody != nil {
		if mt := op.RequestBody.Content[jsonType]; mt != nil && mt.Example == nil && mt.Examples == nil {
			mt.Example = v
		}
	}
}
