package httpapi

import (
	"maps"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/passkey"
	"github.com/usersvc/usersvc/internal/user"
)

// The document of /token, whose body readToken reads itself (huma would
// document a raw body as an opaque string) and whose errors are
// tokenProblems.

// tokenField describes one parameter of the /token body.
func tokenField(desc string, extra func(*huma.Schema)) *huma.Schema {
	s := &huma.Schema{Type: "string", Description: desc}
	if extra != nil {
		extra(s)
	}
	return s
}

// tokenFieldSchemas are the parameters of the /token body.
func tokenFieldSchemas() map[string]*huma.Schema {
	return map[string]*huma.Schema{
		"grant_type": tokenField("password (the default when absent or empty), refresh_token, or the second step of a password login that answered mfa_required: "+grantMFAOTP+", "+grantMFARecoveryCode+" or "+grantMFAWebAuthn, func(s *huma.Schema) {
			s.Enum = []any{grantPassword, grantRefresh, grantMFAOTP, grantMFARecoveryCode, grantMFAWebAuthn}
			s.Examples = []any{grantPassword}
		}),
		"username": tokenField("Password grant (required): the username or the email address; no control characters", func(s *huma.Schema) {
			s.MaxLength = new(254)
			s.Examples = []any{"ada"}
		}),
		"password": tokenField("Password grant (required)", func(s *huma.Schema) {
			s.Format = "password"
			s.Examples = []any{examplePassword}
		}),
		"refresh_token": tokenField("Refresh grant (required): the refresh_token of the last answer (single use)", func(s *huma.Schema) {
			s.Examples = []any{exampleRefreshToken}
		}),
		"device_token": tokenField("Password grant (optional): the device_token of this device's last login of the account; one that is not valid is ignored", func(s *huma.Schema) {
			s.Examples = []any{"d1.example"}
		}),
		"mfa_token": tokenField("Second step (required): the mfa_token of the mfa_required answer (single use, a few minutes, the same client_id)", func(s *huma.Schema) {
			s.Examples = []any{exampleMailToken}
		}),
		"otp": tokenField("TOTP grant (required): the code the authenticator app shows now; each code works once", func(s *huma.Schema) {
			s.MaxLength = new(maxMFACode)
			s.Examples = []any{"123456"}
		}),
		"recovery_code": tokenField("Recovery-code grant (required): one of the account's recovery codes, each usable once", func(s *huma.Schema) {
			s.MaxLength = new(maxMFACode)
			s.Examples = []any{"abcd-efgh-ijkl"}
		}),
		"ceremony": tokenField("Passkey grant (required): the ceremony of POST /api/v1/mfa/webauthn/options for this mfa_token (single use)", func(s *huma.Schema) {
			s.MaxLength = new(maxCeremony)
			s.Examples = []any{exampleCeremony}
		}),
		"credential": tokenField("Passkey grant (required): the JSON of the PublicKeyCredential that navigator.credentials.get answered (its toJSON()), as a string", func(s *huma.Schema) {
			s.MaxLength = new(passkey.MaxResponse)
			s.Examples = []any{`{"id":"...","rawId":"...","type":"public-key","response":{"clientDataJSON":"...","authenticatorData":"...","signature":"..."}}`}
		}),
		"scope": tokenField("Accepted and ignored (RFC 6749 scope syntax: tokens of printable ASCII but '\"' and '\\', single spaces)", func(s *huma.Schema) {
			s.Pattern = `^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$`
			s.Examples = []any{"profile"}
		}),
		"client_id": tokenField("The client's id (optional), recorded in the audit log; or send it as the user of HTTP Basic (with the secret as password, or an empty one). A registered client must be allowed the grant (unauthorized_client) and a confidential one must authenticate (invalid_client); without client_id, or with one that is not registered, the request is the first-party frontend's. A refresh token is redeemed only with the client_id of its login (none for none: invalid_grant otherwise), and a confidential client locked out after too many wrong secrets gets 429 client_locked", func(s *huma.Schema) {
			s.MaxLength = new(maxClientID)
			s.Pattern = `^[\x20-\x7E]+$`
			s.Examples = []any{"docs-page"}
		}),
		"client_secret": tokenField("A confidential client's secret, for one registered with client_secret_post (client_secret_basic clients send it by HTTP Basic); never both", func(s *huma.Schema) {
			s.Format = "password"
		}),
	}
}

// tokenGrant is the schema of one grant: the fields it reads, required
// ones among them. Any other parameter is ignored (RFC 6749 section 3.2).
func tokenGrant(title, grant string, grantRequired bool, required []string, fields ...string) *huma.Schema {
	all := tokenFieldSchemas()
	s := &huma.Schema{Type: "object", Title: title, Properties: map[string]*huma.Schema{}, Required: required}
	for _, f := range fields {
		s.Properties[f] = all[f]
	}
	s.Properties["grant_type"] = tokenField(all["grant_type"].Description, func(s *huma.Schema) {
		s.Enum = []any{grant}
		s.Examples = []any{grant}
	})
	if grantRequired {
		s.Required = append(s.Required, "grant_type")
	}
	for _, f := range s.Required {
		if f != "grant_type" {
			s.Properties[f].MinLength = new(1)
		}
	}
	return s
}

// documentTokenForm documents the /token body: one schema per grant (with
// its required fields), as a form first and then as JSON. TokenForm lists
// every field too, so that a form renderer (the docs page) shows them.
func documentTokenForm(doc *huma.OpenAPI) {
	schemas := doc.Components.Schemas.Map()
	schemas["TokenPasswordGrant"] = tokenGrant("Password grant", grantPassword, false,
		[]string{"username", "password"}, "username", "password", "device_token", "scope", "client_id", "client_secret")
	schemas["TokenRefreshGrant"] = tokenGrant("Refresh grant", grantRefresh, true,
		[]string{"refresh_token"}, "refresh_token", "scope", "client_id", "client_secret")
	schemas["TokenMFAOTPGrant"] = tokenGrant("Second step with a TOTP code", grantMFAOTP, true,
		[]string{"mfa_token", "otp"}, "mfa_token", "otp", "scope", "client_id", "client_secret")
	schemas["TokenMFARecoveryCodeGrant"] = tokenGrant("Second step with a recovery code", grantMFARecoveryCode, true,
		[]string{"mfa_token", "recovery_code"}, "mfa_token", "recovery_code", "scope", "client_id", "client_secret")
	schemas["TokenMFAWebAuthnGrant"] = tokenGrant("Second step with a passkey", grantMFAWebAuthn, true,
		[]string{"mfa_token", "ceremony", "credential"}, "mfa_token", "ceremony", "credential", "scope", "client_id", "client_secret")
	schemas["TokenForm"] = &huma.Schema{
		Type: "object",
		Description: "A password grant or a refresh grant (RFC 6749 sections 4.3 and 6), or the second step of a password login " +
			"that answered 403 mfa_required (the account has a second factor): the mfa_token with a TOTP code, a recovery code, or a passkey's assertion " +
			"(its options from POST /api/v1/mfa/webauthn/options). " +
			"An empty field counts as absent; an unknown parameter is ignored; a parameter given twice is refused.",
		Properties: tokenFieldSchemas(),
		OneOf: []*huma.Schema{
			{Ref: "#/components/schemas/TokenPasswordGrant"},
			{Ref: "#/components/schemas/TokenRefreshGrant"},
			{Ref: "#/components/schemas/TokenMFAOTPGrant"},
			{Ref: "#/components/schemas/TokenMFARecoveryCodeGrant"},
			{Ref: "#/components/schemas/TokenMFAWebAuthnGrant"},
		},
	}
	ref := &huma.Schema{Ref: "#/components/schemas/TokenForm"}
	examples := map[string]*huma.Example{
		"password": {Summary: "Log in", Value: map[string]any{"grant_type": grantPassword, "username": "ada", "password": examplePassword}},
		"refresh":  {Summary: "Refresh (with the refresh_token of the last answer)", Value: map[string]any{"grant_type": grantRefresh, "refresh_token": exampleRefreshToken}},
		"mfa-otp":  {Summary: "Second step with a TOTP code (after 403 mfa_required)", Value: map[string]any{"grant_type": grantMFAOTP, "mfa_token": exampleMailToken, "otp": "123456"}},
		"mfa-recovery-code": {Summary: "Second step with a recovery code (after 403 mfa_required)", Value: map[string]any{
			"grant_type": grantMFARecoveryCode, "mfa_token": exampleMailToken, "recovery_code": "abcd-efgh-ijkl",
		}},
		//nolint:gosec // documented placeholders, no credential
		"mfa-webauthn": {Summary: "Second step with a passkey (after 403 mfa_required with webauthn)", Value: map[string]any{
			"grant_type": grantMFAWebAuthn, "mfa_token": exampleMailToken, "ceremony": exampleCeremony,
			"credential": `{"id":"...","rawId":"...","type":"public-key","response":{"clientDataJSON":"...","authenticatorData":"...","signature":"..."}}`,
		}},
	}
	doc.Paths[tokenPath].Post.RequestBody = &huma.RequestBody{
		Required:    true,
		Description: "The grant, as application/x-www-form-urlencoded (what OAuth2 clients send) or the same fields as a JSON object.",
		Content: map[string]*huma.MediaType{
			formURLEncoded: {Schema: ref, Examples: examples},
			jsonType:       {Schema: ref, Examples: examples},
		},
	}
}

// documentTokenErrors makes every error answer of /token a TokenError:
// the Problem every route answers, with RFC 6749's two members.
func documentTokenErrors(doc *huma.OpenAPI) {
	schemas := doc.Components.Schemas.Map()
	te := *schemas["Problem"]
	te.Description = "A Problem with the error members of RFC 6749 section 5.2, which OAuth2 clients read"
	te.Properties = maps.Clone(te.Properties)
	codes := make([]any, len(oauthErrorCodes))
	for i, c := range oauthErrorCodes {
		codes[i] = c
	}
	te.Properties["error"] = &huma.Schema{Type: "string", Enum: codes,
		Description: "The RFC 6749 error code: invalid_grant for wrong credentials or a refresh token that is no longer valid; temporarily_unavailable for a 429 or 503"}
	te.Properties["error_description"] = &huma.Schema{Type: "string", Description: "The detail, in the characters RFC 6749 allows"}
	te.Properties["mfa_token"] = &huma.Schema{Type: "string", Description: "With mfa_required (403): the token of the second step, usable once, for expires_in seconds, by the same client_id"}
	te.Properties["methods"] = &huma.Schema{Type: "array", Items: &huma.Schema{Type: "string", Enum: []any{user.MethodOTP, user.MethodRecoveryCode, passkey.Method}},
		Description: "With mfa_required: the second factors the account has (otp: grant " + grantMFAOTP + "; recovery_code: grant " + grantMFARecoveryCode +
			"; webauthn: a passkey, options from POST /api/v1/mfa/webauthn/options, then grant " + grantMFAWebAuthn + ")"}
	te.Properties["expires_in"] = &huma.Schema{Type: "integer", Description: "With mfa_required: seconds the mfa_token stays usable"}
	te.Required = append(slices.Clone(te.Required), "error", "error_description")
	schemas["TokenError"] = &te
	ref := &huma.Schema{Ref: "#/components/schemas/TokenError"}
	op := doc.Paths[tokenPath].Post
	for _, status := range slices.Sorted(maps.Keys(op.Responses)) {
		if status[0] == '4' || status[0] == '5' {
			op.Responses[status].Content = map[string]*huma.MediaType{jsonType: {Schema: ref}}
		}
	}
	// /revoke refuses a client as /token does (revokeError).
	if r, ok := doc.Paths["/api/v1/revoke"].Post.Responses["401"]; ok {
		r.Content = map[string]*huma.MediaType{jsonType: {Schema: ref}}
	}
}
