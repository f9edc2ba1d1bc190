package oidcop

import (
	"context"
	"errors"
	"net/http"
	"slices"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Token answers the token endpoint's grants that Takes says are ours: the
// code and refresh grants by exchangeCode and refresh, the rest by op.
func (p *Provider) Token(w http.ResponseWriter, r *http.Request) {
	r = withAuthMethod(r)
	r = r.WithContext(op.ContextWithIssuer(r.Context(), p.cfg.Issuer))
	switch r.FormValue("grant_type") {
	case GrantAuthorizationCode:
		p.exchangeCode(w, r)
	case GrantRefreshToken:
		p.refresh(w, r)
	default:
		op.Exchange(w, r, p.op)
	}
}

// exchangeCode is op.CodeExchange, answered by tokenResponse.
func (p *Provider) exchangeCode(w http.ResponseWriter, r *http.Request) {
	tokenReq, err := op.ParseAccessTokenRequest(r, p.op.Decoder())
	if err == nil && tokenReq.Code == "" {
		err = oidc.ErrInvalidRequest().WithDescription("code missing")
	}
	if err == nil && tokenReq.CodeVerifier != "" && !verifierSyntax(tokenReq.CodeVerifier) {
		err = oidc.ErrInvalidRequest().WithDescription("code_verifier must be %d to %d characters of A-Z, a-z, 0-9, -, ., _ and ~", minVerifier, maxVerifier)
	}
	if err == nil {
		err = p.authenticateFirst(r.Context(), tokenReq)
	}
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	req, client, err := op.ValidateAccessTokenRequest(r.Context(), tokenReq, p.op)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	p.tokenResponse(w, r, req, client, tokenReq.Code, "")
}

// The bounds of a PKCE code_verifier (RFC 7636 section 4.1).
const (
	minVerifier = 43
	maxVerifier = 128
)

// verifierSyntax reports whether v is a code_verifier of RFC 7636 section
// 4.1: minVerifier to maxVerifier characters of [A-Z] / [a-z] / [0-9] /
// "-" / "." / "_" / "~". Another is a malformed parameter, invalid_request
// (RFC 6749 section 5.2), refused before the code is looked at; op would
// hash and compare it like any other (invalid_grant).
func verifierSyntax(v string) bool {
	if len(v) < minVerifier || len(v) > maxVerifier {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// authenticateFirst authenticates the confidential client of a code
// exchange by its secret before the code is looked at, as RFC 6749 4.1.3
// orders and op's refresh grant does (op's code exchange reads the code
// first): a bad code sent by the client's server (whatever a user put in
// its callback's query string) is then refused after the client proved
// its secret, and is no guess (FailureNote). A secret sent by another
// method than the client's is left to op, code first, so that a client
// library trying the other method after a refusal reports the code's
// error, not invalid_client; it is noted no guess too. Public clients
// and client assertions are op's to check, as before.
func (p *Provider) authenticateFirst(ctx context.Context, tokenReq *oidc.AccessTokenRequest) error {
	if tokenReq.ClientAssertionType != "" {
		return nil
	}
	c, err := p.d.Clients.Client(ctx, tokenReq.ClientID)
	if errors.Is(err, ErrUnknownClient) {
		return oidc.ErrInvalidClient().WithParent(err)
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if c.Public() {
		return nil
	}
	if c.OtherMethod(tokenReq.ClientSecret, authMethodOf(ctx)) {
		noteNoGuess(ctx)
		return nil
	}
	return op.AuthorizeClientIDSecret(ctx, tokenReq.ClientID, tokenReq.ClientSecret, p.op.Storage())
}

// refresh is op.RefreshTokenExchange, answered by tokenResponse.
func (p *Provider) refresh(w http.ResponseWriter, r *http.Request) {
	tokenReq, err := op.ParseRefreshTokenRequest(r, p.op.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	req, client, err := op.ValidateRefreshTokenRequest(r.Context(), tokenReq, p.op)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	p.tokenResponse(w, r, req, client, "", tokenReq.RefreshToken)
}

// tokenResponse is op.CreateTokenResponse with an ID token only for an
// OpenID request, one whose scopes have openid (OpenID Connect Core
// 3.1.2.1), as op's device flow does: op's code and refresh grants make
// one for every request, so a plain OAuth 2.0 client got one it never
// asked for. (op's DeleteAuthRequest is left out: ours keeps the request,
// for a replay of its code to be found.)
func (p *Provider) tokenResponse(w http.ResponseWriter, r *http.Request, req op.IDTokenRequest, client op.Client, code, refreshToken string) {
	ctx := r.Context()
	access, refresh, validity, err := op.CreateAccessToken(ctx, req, client.AccessTokenType(), p.op, client, refreshToken)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	resp := &oidc.AccessTokenResponse{
		AccessToken: access, RefreshToken: refresh, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(max(validity, 0).Seconds()), Scope: req.GetScopes(),
	}
	if slices.Contains(req.GetScopes(), oidc.ScopeOpenID) {
		resp.IDToken, err = op.CreateIDToken(ctx, op.IssuerFromContext(ctx), req, client.IDTokenLifetime(), access, code, p.op.Storage(), client)
		if err != nil {
			op.RequestError(w, r, err, nil)
			return
		}
	}
	httphelper.MarshalJSON(w, resp)
}
