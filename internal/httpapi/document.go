package httpapi

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/user"
)

// The OpenAPI document beyond what huma derives from the Go types: what
// linters (Redocly's recommended rules, Spectral's spectral:oas) and the
// clients generated from the document need, and what the service does
// that the types cannot say. finishDocument runs once every route is
// registered and changes only the document, never what huma validates.

// oauth2Password names the OAuth2 password-flow security scheme, which the
// docs page's Authorize button uses to log in.
const oauth2Password = "oauth2Password"

// exampleID is the id in the documented examples: one no account has, so
// that an example never touches someone's data.
const exampleID = "01939a3e-3b1c-7cc2-8a3e-6c0f4b0a9d51"

// finishDocument completes doc; see the comment above.
func finishDocument(doc *huma.OpenAPI) {
	doc.Servers = []*huma.Server{{URL: "/", Description: "This service (the document's own origin)"}}
	doc.Info.Contact = &huma.Contact{Name: "usersvc", URL: "https://github.com/usersvc/usersvc"}
	doc.Info.License = &huma.License{Name: "Proprietary", URL: "https://github.com/usersvc/usersvc"}
	doc.Components.SecuritySchemes[oauth2Password] = &huma.SecurityScheme{
		Type:        "oauth2",
		Description: "OAuth 2.0 resource owner password grant at /api/v1/token (RFC 6749 section 4.3); the access token is then sent as a bearer token. No client secret: a public client may send client_id.",
		Flows: &huma.OAuthFlows{Password: &huma.OAuthFlow{
			TokenURL: tokenPath, RefreshURL: tokenPath, Scopes: map[string]string{},
		}},
	}
	doc.Tags = []*huma.Tag{
		{Name: "Authentication", Description: "Registration, login (OAuth2 token endpoint), email verification and password reset"},
		{Name: "Users", Description: "The current user's profile, password, sessions, audit log and data export"},
		{Name: "Administration", Description: "Administrators' management of every account and the audit log"},
		{Name: "Operations", Description: "Liveness, readiness and the public keys of the tokens"},
	}
	documentTokenForm(doc)
	documentProblems(doc)
	documentTokenErrors(doc)
	for path, item := range doc.Paths {
		for method, op := range operations(item) {
			finishOperation(path, method, op)
		}
	}
	for _, s := range doc.Components.Schemas.Map() {
		extendPatternDescriptions(s)
	}
	describeSchemas(doc)
}

// documentProblems documents every error answer as what it is, a
// problem (errors.go), instead of huma's ErrorModel, which has no code.
func documentProblems(doc *huma.OpenAPI) {
	schemas := doc.Components.Schemas
	ref := schemas.Schema(reflect.TypeFor[problem](), true, "Problem")
	for _, item := range doc.Paths {
		for _, op := range operations(item) {
			for _, res := range op.Responses {
				for _, mt := range res.Content {
					if mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/ErrorModel" {
						mt.Schema = ref
					}
				}
			}
		}
	}
	delete(schemas.Map(), "ErrorModel")
}

// operations lists the operations of item by method.
func operations(item *huma.PathItem) map[string]*huma.Operation {
	ops := map[string]*huma.Operation{}
	for method, op := range map[string]*huma.Operation{
		http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
		http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
	} {
		if op != nil {
			ops[method] = op
		}
	}
	return ops
}

// finishOperation completes one operation: security (an explicit empty
// list on public ones; the password flow beside the bearer scheme on the
// others), a description, the 413 every request can get, the headers of
// every answer, and its examples.
func finishOperation(path, method string, op *huma.Operation) {
	if len(op.Security) == 0 {
		op.Security = []map[string][]string{}
	} else {
		op.Security = append(op.Security, map[string][]string{oauth2Password: {}})
	}
	if op.Description == "" {
		op.Description = describeOperation(path, op)
	}
	if _, ok := op.Responses["413"]; !ok {
		// limitBody refuses any request whose declared body is over the
		// limit, whatever the route.
		op.Responses["413"] = &huma.Response{Description: "The declared request body is over the limit", Content: op.Responses["500"].Content}
	}
	for status, res := range op.Responses {
		documentHeaders(path, status, res)
	}
	documentExamples(path, method, op)
}

// describeOperation words the description of an operation that has none
// from what the route line says about it.
func describeOperation(path string, op *huma.Operation) string {
	var b strings.Builder
	b.WriteString(op.Summary + ".")
	switch {
	case len(op.Security) > 1 && slices.Contains(op.Tags, "Administration"):
		b.WriteString(" Needs the bearer access token of an active administrator (403 for anyone else).")
	case len(op.Security) > 1:
		b.WriteString(" Needs a bearer access token (from /api/v1/token).")
	default:
		b.WriteString(" Needs no token.")
	}
	if _, ok := op.Responses["429"]; ok && path != tokenPath {
		b.WriteString(" Rate limited per client address: a 429 says when to retry (Retry-After, RateLimit).")
	}
	return b.String()
}

// The response headers, described once.
var (
	requestIDDoc = &huma.Header{
		Description: "The request's id: the caller's X-Request-ID when it is 1 to 64 of [A-Za-z0-9._-], else a new one. Quote it when reporting a problem.",
		Schema:      &huma.Schema{Type: "string", MaxLength: new(64)},
	}
	retryAfterDoc = &huma.Header{
		Description: "Seconds until a retry may succeed; on 429 the same as the RateLimit reset (t=) and X-RateLimit-Reset.",
		Schema:      &huma.Schema{Type: "integer", Minimum: new(0.0)},
	}
	rateLimitDocs = map[string]*huma.Header{
		"RateLimit":             {Description: `The limit that refused the request (draft-ietf-httpapi-ratelimit-headers), e.g. "login";r=0;t=42: remaining requests and seconds until the window resets.`, Schema: &huma.Schema{Type: "string"}},
		"RateLimit-Policy":      {Description: `The limit's policy, e.g. "login";q=10;w=60: the quota and the window in seconds.`, Schema: &huma.Schema{Type: "string"}},
		"X-RateLimit-Limit":     {Description: "Requests allowed per window.", Schema: &huma.Schema{Type: "integer"}},
		"X-RateLimit-Remaining": {Description: "Requests left in the window.", Schema: &huma.Schema{Type: "integer"}},
		"X-RateLimit-Reset":     {Description: "When a retry may succeed, as a Unix time.", Schema: &huma.Schema{Type: "integer"}},
	}
	bearerChallengeDoc = &huma.Header{
		Description: "Bearer (RFC 6750): send a valid access token.",
		Schema:      &huma.Schema{Type: "string", Enum: []any{"Bearer"}},
	}
	basicChallengeDoc = &huma.Header{
		Description: `Only with error invalid_client when the client authenticated with an Authorization: Basic header: Basic realm="usersvc" (RFC 6749 section 5.2). No other 401 of /token has a challenge, nor invalid_client for credentials sent in the body.`,
		Schema:      &huma.Schema{Type: "string"},
	}
)

// documentHeaders lists the headers of the answer status of the
// operation at path.
func documentHeaders(path, status string, res *huma.Response) {
	if res.Headers == nil {
		res.Headers = map[string]*huma.Header{}
	}
	res.Headers["X-Request-Id"] = requestIDDoc
	switch status {
	case "429":
		res.Headers["Retry-After"] = retryAfterDoc
		for name, h := range rateLimitDocs {
			res.Headers[name] = h
		}
	case "503":
		res.Headers["Retry-After"] = retryAfterDoc
	case "401":
		if path == tokenPath {
			res.Headers["WWW-Authenticate"] = basicChallengeDoc
		} else {
			res.Headers["WWW-Authenticate"] = bearerChallengeDoc
		}
	}
}

// extendPatternDescriptions moves huma's patternDescription keyword, which
// is not JSON Schema, to an x- extension (huma has already worded its
// validation messages from it).
func extendPatternDescriptions(s *huma.Schema) {
	if s == nil {
		return
	}
	if s.PatternDescription != "" {
		if s.Extensions == nil {
			s.Extensions = map[string]any{}
		}
		s.Extensions["x-pattern-description"] = s.PatternDescription
		if s.Description == "" {
			s.Description = "Only " + s.PatternDescription
		}
		s.PatternDescription = ""
	}
	for _, p := range s.Properties {
		extendPatternDescriptions(p)
	}
	extendPatternDescriptions(s.Items)
	for _, sub := range slices.Concat(s.OneOf, s.AnyOf, s.AllOf) {
		extendPatternDescriptions(sub)
	}
}

// passwordRules is what every new password must meet.
var passwordRules = fmt.Sprintf("at least %d characters (USERSVC_PASSWORD_MIN_LENGTH may ask for more) and at most %d bytes of UTF-8 (a non-ASCII character takes 2 to 4); not a known breached password; not the username or the email, in any letter case", user.MinPasswordChars, user.MaxPasswordBytes)

// describeSchemas states in the schemas the rules JSON Schema cannot
// (bytes, not characters; no control characters; a dotted domain), where
// the service enforces them.
func describeSchemas(doc *huma.OpenAPI) {
	set := func(schema, prop, desc string) {
		if s := doc.Components.Schemas.Map()[schema]; s != nil && s.Properties[prop] != nil {
			s.Properties[prop].Description = desc
		}
	}
	email := "A bare ASCII address (no display name) whose domain has a dot, e.g. ada@example.com; at most 254 characters"
	set("UserCreate", "email", email)
	set("UserCreate", "password", "New password: "+passwordRules)
	set("UserUpdate", "email", email+". "+doc.Components.Schemas.Map()["UserUpdate"].Properties["email"].Description)
	set("UserUpdate", "full_name", "At most 255 bytes of UTF-8 without control or invisible formatting characters (direction overrides, zero-width characters, line separators); an empty string clears it; null keeps it")
	set("UserUpdate", "current_password", "The current password (at most 72 bytes): lets this request change the email when the session's login is not recent")
	set("AdminUserUpdate", "email", email+". A new address is no longer verified")
	set("AdminUserUpdate", "full_name", "At most 255 bytes of UTF-8 without control or invisible formatting characters (direction overrides, zero-width characters, line separators); an empty string clears it")
	set("PasswordUpdate", "current_password", "The current password (at most 72 bytes)")
	set("PasswordUpdate", "new_password", "New password: "+passwordRules)
	set("Reauthentication", "password", "The current password (at most 72 bytes)")
	for _, s := range doc.Components.Schemas.Map() {
		if p := s.Properties["new_password"]; p != nil && p.Description == "" {
			p.Description = "New password: " + passwordRules
		}
	}
}

// documentAuditKinds makes the kind filter of GET /admin/audit an array
// of the known kinds (repeat the parameter; the service also takes a
// comma-separated list). The document gets its own schema: huma validates
// the original, under which a comma-separated list passes to the service.
func documentAuditKinds(doc *huma.OpenAPI, known []user.AuditKind) {
	kinds := make([]any, len(known))
	for i, k := range known {
		kinds[i] = string(k)
	}
	for _, p := range doc.Paths["/api/v1/admin/audit"].Get.Parameters {
		if p.Name == "kind" {
			p.Schema = &huma.Schema{Type: "array", Items: &huma.Schema{Type: "string", Enum: kinds}}
			p.Explode = new(true)
			p.Style = "form"
			p.Description = "Only events of these kinds: repeat the parameter (a comma-separated list is taken too)"
			p.Example = []string{"login.failed"}
		}
	}
}
