package oidcop

import (
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is a stored AuthRequest as op sees it (op.AuthRequest, and
// the TokenRequest of a code exchange).
type authRequest struct{ AuthRequest }

var _ op.AuthRequest = (*authRequest)(nil)

func (r *authRequest) GetID() string          { return r.ID }
func (r *authRequest) GetACR() string         { return r.ACR }
func (r *authRequest) GetAMR() []string       { return r.AMR }
func (r *authRequest) GetAudience() []string  { return []string{r.ClientID} }
func (r *authRequest) GetAuthTime() time.Time { return r.AuthTime }
func (r *authRequest) GetClientID() string    { return r.ClientID }
func (r *authRequest) GetNonce() string       { return r.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.RedirectURI }
func (r *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(r.ResponseType)
}
func (r *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(r.ResponseMode)
}
func (r *authRequest) GetScopes() []string { return r.Scopes }
func (r *authRequest) GetState() string    { return r.State }
func (r *authRequest) GetSubject() string {
	if r.UserID == uuid.Nil {
		return ""
	}
	return r.UserID.String()
}
func (r *authRequest) Done() bool { return r.AuthRequest.Done }

func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: oidc.CodeChallengeMethod(r.CodeChallengeMethod)}
}

// refreshRequest is a refresh_token grant's request: the live grant the
// token belongs to.
type refreshRequest struct {
	grant  Grant
	scopes []string
	// token is the hash of the refresh token presented, which the new one
	// replaces (CreateAccessAndRefreshTokens), once op has checked that
	// the client presenting it is the grant's.
	token []byte
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string  { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string    { return r.scopes }
func (r *refreshRequest) GetSubject() string     { return r.grant.UserID.String() }
func (r *refreshRequest) SetCurrentScopes(s []string) {
	r.scopes = slices.Clone(s)
}

// serviceRequest is a client_credentials grant's request: a service
// account acting as itself.
type serviceRequest struct {
	clientID string
	audience string // the service's own aud, as on user tokens
	scopes   []string
}

var _ op.TokenRequest = (*serviceRequest)(nil)

func (r *serviceRequest) GetSubject() string    { return r.clientID }
func (r *serviceRequest) GetAudience() []string { return []string{r.audience} }
func (r *serviceRequest) GetScopes() []string   { return r.scopes }
