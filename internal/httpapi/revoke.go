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

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
)

// POST /api/v1/revoke: token revocation (RFC 7009). A refresh token ends
// its session; so does an access token. Any well-formed request is
// answered 200, whether the token was known or not, so that the answer
// tells a guesser nothing. It is the revocation_endpoint of the discovery
// documents, so the OpenID provider's tokens sent here are the provider's
// to revoke (delegateGrants): their grant ends, for their own client.

// errRevokeRequest is every malformed revocation request: RFC 7009 answers
// them all 400 invalid_request.
var errRevokeRequest = errors.New("the body must be an application/x-www-form-urlencoded form with a token, each parameter given once")

// revokeParams are the parameters /revoke reads: the token, the hint of
// its kind, and the client's id and secret (RFC 6749 section 2.3.1; the
// secret may come by HTTP Basic instead). Others are ignored (RFC 6749
// section 3.2: "MUST ignore unrecognized request parameters").
var revokeParams = []string{"token", "token_type_hint", "client_id", "client_secret"}

// revokeForm documents the /revoke body; revoke reads it itself.
type revokeForm struct {
	Token         string `json:"token" minLength:"1" doc:"The refresh token or access token to revoke: its session ends (a token of the OpenID provider: its grant, when the client authenticated is the token's)"`
	TokenTypeHint string `json:"token_type_hint,omitempty" doc:"access_token or refresh_token: which kind to try first (any other value is ignored)"`
	ClientID      string `json:"client_id,omitempty" doc:"The client's id: the one the token's login named, for a token whose login named one. A registered confidential client authenticates, by HTTP Basic or client_secret"`
	ClientSecret  string `json:"client_secret,omitempty" doc:"A confidential client's secret, when it does not send it by HTTP Basic"`
}

type revokeOutput struct {
	CacheControl string `header:"Cache-Control"`
}

// revokeRequest is a parsed /revoke request: the token, its hint, and
// the client the request names (its id, its secret and how it came).
type revokeRequest struct {
	token, hint string
	client      oauthclient.Credentials
}

// revokeKey is the context key of the revokeRequest readRevoke parsed.
type revokeKey struct{}

// revokeOp is op for /revoke: per-address limited by the rule of refresh
// grants, since guessing a token to revoke is guessing one to refresh;
// then readRevoke reads the form. It answers 401 invalid_client to a
// client that fails to authenticate (revoker), or to a request without
// the client a refresh token's login named.
func (a *api) revokeOp(op huma.Operation) huma.Operation {
	op.Errors = append(op.Errors, http.StatusUnauthorized)
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
		r, err = readRevokeForm(ctx.Header("Content-Type"), body)
	}
	if err == nil {
		err = r.withBasic(ctx.Header("Authorization"))
	}
	if info := requestInfoFrom(ctx.Context()); info != nil {
		info.basicClient = isBasic(ctx.Header("Authorization"))
	}
	if err != nil {
		a.writeOAuthProblem(ctx, a.revokeError(ctx.Context(), err))
		return
	}
	next(huma.WithValue(ctx, revokeKey{}, r))
}

func (a *api) revoke(ctx context.Context, _ *struct{}) (*revokeOutput, error) {
	r, ok := ctx.Value(revokeKey{}).(revokeRequest)
	if !ok { // revokeOp always puts readRevoke first
		return nil, a.problem(ctx, errNoRequestInfo)
	}
	r.client.From = user.ClientFrom(ctx).IP
	by, err := a.revoker(ctx, r.client)
	if err == nil {
		err = a.users.RevokeToken(ctx, r.token, r.hint, by)
	}
	if err != nil {
		return nil, a.revokeError(ctx, err)
	}
	return &revokeOutput{CacheControl: "no-store"}, nil
}

// revoker authenticates the client a /revoke request names, as /token
// does (checkClient): a registered client must authenticate as
// registered (invalid_client otherwise, a wrong secret counting towards
// its lockout at the caller's address); a client id that is not
// registered, sent without a secret, is only a label, as at /token. The
// Revoker says who asks the service, which decides whose tokens that is.
func (a *api) revoker(ctx context.Context, cr oauthclient.Credentials) (user.Revoker, error) {
	by := user.Revoker{ClientID: cr.ID}
	if cr.ID == "" || a.clients == nil {
		if cr.Secret != "" {
			return user.Revoker{}, oauthclient.ErrInvalidClient
		}
		return by, nil
	}
	if _, err := a.clients.Lookup(ctx, cr.ID); errors.Is(err, oauthclient.ErrNotFound) {
		if cr.Secret != "" {
			return user.Revoker{}, oauthclient.ErrInvalidClient
		}
		return by, nil
	} else if err != nil {
		return user.Revoker{}, err
	}
	c, err := a.clients.Authenticate(ctx, cr)
	if err != nil {
		return user.Revoker{}, err
	}
	by.Authenticated = !c.Public()
	return by, nil
}

// revokeError is the answer of /revoke to err: invalid_client in RFC
// 6749's form, as /token answers it (RFC 7009 section 2.2.1); any other
// error a problem, with the error member for a 400.
func (a *api) revokeError(ctx context.Context, err error) error {
	if errors.Is(err, errInvalidClient) || errors.Is(err, oauthclient.ErrInvalidClient) ||
		errors.Is(err, user.ErrRevokerNotTokensClient) {
		return a.tokenError(ctx, err)
	}
	return a.oauthProblem(ctx, err)
}

// readRevokeForm reads the token, its hint and the client's id and
// secret (client_secret_post) from a /revoke body.
func readRevokeForm(contentType string, body []byte) (revokeRequest, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != formURLEncoded {
		return revokeRequest{}, errRevokeRequest
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return revokeRequest{}, errRevokeRequest
	}
	for _, name := range revokeParams {
		if v := values[name]; len(v) > 1 || (len(v) == 1 && !utf8.ValidString(v[0])) {
			return revokeRequest{}, errRevokeRequest
		}
	}
	r := revokeRequest{token: values.Get("token"), hint: values.Get("token_type_hint")}
	if r.token == "" {
		return revokeRequest{}, errRevokeRequest
	}
	r.client = oauthclient.Credentials{ID: values.Get("client_id"), Secret: values.Get("client_secret")}
	if r.client.Secret != "" {
		r.client.Method = oauthclient.AuthSecretPost
	}
	if r.client.ID != "" && !validClientID(r.client.ID) {
		return revokeRequest{}, errRevokeRequest
	}
	return r, nil
}

// withBasic adds the client of an "Authorization: Basic" header to r:
// invalid_client for a header that does not decode, a secret sent both
// ways, or a client_id in the body that is not the header's.
func (r *revokeRequest) withBasic(header string) error {
	id, secret, err := basicClient(header)
	switch {
	case err != nil:
		return err
	case id == "":
		return nil
	case r.client.Secret != "" || (r.client.ID != "" && r.client.ID != id):
		return errInvalidClient
	}
	r.client = oauthclient.Credentials{ID: id, Secret: secret, Method: oauthclient.AuthSecretBasic}
	return nil
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
