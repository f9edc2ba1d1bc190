package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// POST /api/v1/revoke: token revocation (RFC 7009). A refresh token ends
// its session; so does an access token. Any well-formed request is
// answered 200, whether the token was known or not, so that the answer
// tells a guesser nothing.

// errRevokeRequest is every malformed revocation request: RFC 7009 answers
// them all 400 invalid_request.
var errRevokeRequest = errors.New("the body must be an application/x-www-form-urlencoded form with a token, each parameter given once")

// revokeParams are the parameters /revoke reads: the token, the hint of
// its kind, and the client id a public client may send (RFC 6749 section
// 2.3.1), accepted and not checked. Others are ignored (RFC 6749 section
// 3.2: "MUST ignore unrecognized request parameters").
var revokeParams = []string{"token", "token_type_hint", "client_id"}

// revokeForm documents the /revoke body; revoke reads it itself.
type revokeForm struct {
	Token         string `json:"token" minLength:"1" doc:"The refresh token or access token to revoke: its session ends"`
	TokenTypeHint string `json:"token_type_hint,omitempty" doc:"access_token or refresh_token: which kind to try first (any other value is ignored)"`
	ClientID      string `json:"client_id,omitempty" doc:"The public client's id, accepted and not checked"`
}

type revokeOutput struct {
	CacheControl string `header:"Cache-Control"`
}

// revokeRequest is a parsed /revoke request.
type revokeRequest struct{ token, hint string }

// revokeKey is the context key of the revokeRequest readRevoke parsed.
type revokeKey struct{}

// revokeOp is op for /revoke: per-address limited by the rule of refresh
// grants, since guessing a token to revoke is guessing one to refresh;
// then readRevoke reads the form.
func (a *api) revokeOp(op huma.Operation) huma.Operation {
	op = a.limited(a.limits.Refresh, op)
	op.Middlewares = append(op.Middlewares, a.readRevoke)
	return op
}

// readRevoke is the operation middleware of /revoke: it reads and parses
// the form, at most maxBodyBytes of it, and hands it to the handler in
// the context; a malformed one is answered 400 invalid_request.
func (a *api) readRevoke(ctx huma.Context, next func(huma.Context)) {
	body, err := io.ReadAll(io.LimitReader(ctx.BodyReader(), a.maxBodyBytes+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || int64(len(body)) > a.maxBodyBytes:
		err = errTooLarge
	case err != nil:
		err = errRevokeRequest
	}
	var r revokeRequest
	if err == nil {
		r.token, r.hint, err = readRevokeForm(ctx.Header("Content-Type"), body)
	}
	if err != nil {
		a.writeOAuthProblem(ctx, a.oauthProblem(ctx.Context(), err))
		return
	}
	next(huma.WithValue(ctx, revokeKey{}, r))
}

func (a *api) revoke(ctx context.Context, _ *struct{}) (*revokeOutput, error) {
	r, ok := ctx.Value(revokeKey{}).(revokeRequest)
	if !ok { // revokeOp always puts readRevoke first
		return nil, a.problem(ctx, errNoRequestInfo)
	}
	if err := a.users.RevokeToken(ctx, r.token, r.hint); err != nil {
		return nil, a.oauthProblem(ctx, err)
	}
	return &revokeOutput{CacheControl: "no-store"}, nil
}

// readRevokeForm reads the token and its hint from a /revoke body.
func readRevokeForm(contentType string, body []byte) (token, hint string, err error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != formURLEncoded {
		return "", "", errRevokeRequest
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return "", "", errRevokeRequest
	}
	for _, name := range revokeParams {
		if v := values[name]; len(v) > 1 || (len(v) == 1 && !utf8.ValidString(v[0])) {
			return "", "", errRevokeRequest
		}
	}
	if token = values.Get("token"); token == "" {
		return "", "", errRevokeRequest
	}
	return token, values.Get("token_type_hint"), nil
}

// oauthError is a problem with the error member of OAuth 2.0 (RFC 6749
// section 5.2, which RFC 7009 uses), for the clients that read only that.
type oauthError struct {
	*problem
	OAuthError string `json:"error"`
}

// writeOAuthProblem answers from an operation middleware with err, a
// result of oauthProblem.
func (a *api) writeOAuthProblem(ctx huma.Context, err error) {
	var o *oauthError
	if !errors.As(err, &o) {
		a.writeProblem(ctx, err)
		return
	}
	for name, values := range o.headers {
		for _, v := range values {
			ctx.AppendHeader(name, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(o.Status)
	_ = a.huma.Marshal(ctx.BodyWriter(), "application/json", o)
}

// oauthProblem is problem for an OAuth endpoint: a 400 also carries
// error "invalid_request". The status comes from errorTable, as always.
func (a *api) oauthProblem(ctx context.Context, err error) error {
	answer := a.problem(ctx, err)
	var p *problem
	if errors.As(answer, &p) && p.Status == http.StatusBadRequest {
		return &oauthError{problem: p, OAuthError: "invalid_request"}
	}
	return answer
}

// documentRevokeForm documents the /revoke body, which revoke reads
// itself (huma would document a raw body as an opaque string).
func documentRevokeForm(doc *huma.OpenAPI) {
	schema := doc.Components.Schemas.Schema(reflect.TypeFor[revokeForm](), true, "RevokeForm")
	op := doc.Paths["/api/v1/revoke"].Post
	op.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{formURLEncoded: {Schema: schema, Examples: map[string]*huma.Example{
			"refresh": {Summary: "Revoke a refresh token (its session ends)", Value: map[string]any{"token": exampleRefreshToken, "token_type_hint": "refresh_token"}},
		}}},
	}
}
