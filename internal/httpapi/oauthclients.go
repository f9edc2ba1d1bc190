package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/usersvc/usersvc/internal/oauthclient"
)

// OAuth client administration (oauthclient.Service): every route is
// behind a.admin, and the service checks the role again. Service accounts
// cannot manage clients: no scope reaches these routes.

// errClientsUnavailable answers the client routes of a service built
// without a registry.
var errClientsUnavailable = errors.New("the OAuth client registry is unavailable")

// oauthClientRead is a client on the wire: never its secret or its hash.
type oauthClientRead struct {
	ClientID                string    `json:"client_id" doc:"The client_id"`
	Name                    string    `json:"name"`
	Confidential            bool      `json:"confidential" doc:"true: it has a secret; false: a public client (browser or native app)"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method" enum:"none,client_secret_basic,client_secret_post"`
	RedirectURIs            []string  `json:"redirect_uris" doc:"Matched exactly"`
	PostLogoutRedirectURIs  []string  `json:"post_logout_redirect_uris"`
	GrantTypes              []string  `json:"grant_types"`
	Scopes                  []string  `json:"scopes"`
	FirstParty              bool      `json:"first_party" doc:"One of ours: not asked for consent"`
	PasswordGrant           bool      `json:"password_grant" doc:"Whether it may use the password grant at /api/v1/token (grant_types has password)"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

func toOAuthClientRead(c oauthclient.Client) oauthClientRead {
	return oauthClientRead{
		ClientID: c.ID, Name: c.Name, Confidential: !c.Public(), TokenEndpointAuthMethod: c.AuthMethod,
		RedirectURIs: orNone(c.RedirectURIs), PostLogoutRedirectURIs: orNone(c.PostLogoutRedirectURIs),
		GrantTypes: orNone(c.Grants), Scopes: orNone(c.Scopes), FirstParty: c.FirstParty, PasswordGrant: c.PasswordGrant(),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// OAuthClientRead is oauthClientRead under an exported name, so that huma
// inlines its fields where it is embedded.
type OAuthClientRead = oauthClientRead

// oauthClientWithSecret is a client with its new secret, shown once.
type oauthClientWithSecret struct {
	OAuthClientRead
	ClientSecret string `json:"client_secret,omitempty" doc:"The client secret (ucs_...) of a confidential client: shown only now. Absent for a public client"`
}

type oauthClientInput struct {
	ID string `path:"id" minLength:"1" maxLength:"255" doc:"The client_id"`
}

type oauthClientCreateInput struct {
	Body struct {
		Name                    string   `json:"name" minLength:"1" maxLength:"100" pattern:"^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$" patternDescription:"not blank, no control characters" example:"Reporting service"`
		Confidential            bool     `json:"confidential,omitempty" doc:"true gives it a secret (a server-side app or a service account); default false: a public client"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty" enum:"none,client_secret_basic,client_secret_post" doc:"How a confidential client sends its secret; default client_secret_basic. Refused (422) for a public client unless none: a public client authenticates with none"`
		RedirectURIs            []string `json:"redirect_uris,omitempty" maxItems:"10" nullable:"false" pattern:"^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|\\[::1\\]|localhost))(:[0-9]{1,5})?(/[-A-Za-z0-9._~!$&'()+,;=:@/?]*)?$" patternDescription:"an https URL, or http to a loopback address, without fragment or wildcard" maxLength:"2000" doc:"Matched exactly: https, or http to a loopback address; no fragment, no wildcard"`
		PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty" maxItems:"10" nullable:"false" pattern:"^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|\\[::1\\]|localhost))(:[0-9]{1,5})?(/[-A-Za-z0-9._~!$&'()+,;=:@/?]*)?$" patternDescription:"an https URL, or http to a loopback address, without fragment or wildcard" maxLength:"2000"`
		GrantTypes              []string `json:"grant_types,omitempty" maxItems:"4" nullable:"false" enum:"authorization_code,refresh_token,client_credentials,password" minItems:"1" doc:"Default by kind: authorization_code and refresh_token with redirect URIs (plus password for a first-party client); client_credentials for a confidential client without them. Refused (422): authorization_code needs at least one redirect URI; client_credentials needs a confidential client (a secret)"`
		Scopes                  []string `json:"scopes,omitempty" maxItems:"7" nullable:"false" enum:"openid,profile,email,offline_access,users:read,users:write,audit:read" doc:"Default openid profile email offline_access; none for a service account. Refused (422): users:read, users:write and audit:read are for service accounts: each needs the client_credentials grant"`
		FirstParty              bool     `json:"first_party,omitempty" doc:"One of ours: no consent page, and the password grant by default"`
	}
}

type oauthClientUpdateInput struct {
	ID   string `path:"id" minLength:"1" maxLength:"255" doc:"The client_id"`
	Body struct {
		Name                   *string   `json:"name,omitempty" minLength:"1" maxLength:"100" pattern:"^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$" patternDescription:"not blank, no control characters"`
		RedirectURIs           *[]string `json:"redirect_uris,omitempty" maxItems:"10" nullable:"false" pattern:"^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|\\[::1\\]|localhost))(:[0-9]{1,5})?(/[-A-Za-z0-9._~!$&'()+,;=:@/?]*)?$" patternDescription:"an https URL, or http to a loopback address, without fragment or wildcard" maxLength:"2000"`
		PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty" maxItems:"10" nullable:"false" pattern:"^(https://[A-Za-z0-9.-]+|http://(127\\.0\\.0\\.1|\\[::1\\]|localhost))(:[0-9]{1,5})?(/[-A-Za-z0-9._~!$&'()+,;=:@/?]*)?$" patternDescription:"an https URL, or http to a loopback address, without fragment or wildcard" maxLength:"2000"`
		GrantTypes             *[]string `json:"grant_types,omitempty" maxItems:"4" nullable:"false" enum:"authorization_code,refresh_token,client_credentials,password" minItems:"1" doc:"Removing client_credentials stops its tokens at once. The whole client is checked again: authorization_code needs at least one redirect URI; client_credentials needs a confidential client (a secret)"`
		Scopes                 *[]string `json:"scopes,omitempty" maxItems:"7" nullable:"false" enum:"openid,profile,email,offline_access,users:read,users:write,audit:read" doc:"Removing a scope takes it from its tokens at once. users:read, users:write and audit:read are for service accounts: each needs the client_credentials grant"`
		FirstParty             *bool     `json:"first_party,omitempty"`
	}
}

type oauthClientOutput struct{ Body oauthClientRead }

type oauthClientSecretOutput struct{ Body oauthClientWithSecret }

type oauthClientListOutput struct {
	Body struct {
		Items []oauthClientRead `json:"items"`
	}
}

// clientAdmin returns the registry and the calling administrator.
func (a *api) clientAdmin(ctx context.Context) (*oauthclient.Service, error) {
	if _, err := currentUser(ctx); err != nil {
		return nil, err
	}
	if a.clients == nil {
		return nil, errClientsUnavailable
	}
	return a.clients, nil
}

func (a *api) createOAuthClient(ctx context.Context, in *oauthClientCreateInput) (*oauthClientSecretOutput, error) {
	svc, err := a.clientAdmin(ctx)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	me, _ := currentUser(ctx)
	b := in.Body
	c, secret, err := svc.Create(ctx, me, oauthclient.NewClient{
		Name: b.Name, Confidential: b.Confidential, AuthMethod: b.TokenEndpointAuthMethod,
		RedirectURIs: b.RedirectURIs, PostLogoutRedirectURIs: b.PostLogoutRedirectURIs,
		Grants: b.GrantTypes, Scopes: b.Scopes, FirstParty: b.FirstParty,
	})
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &oauthClientSecretOutput{Body: oauthClientWithSecret{toOAuthClientRead(c), secret}}, nil
}

func (a *api) listOAuthClients(ctx context.Context, _ *struct{}) (*oauthClientListOutput, error) {
	svc, err := a.clientAdmin(ctx)
	var cs []oauthclient.Client
	if err == nil {
		me, _ := currentUser(ctx)
		cs, err = svc.List(ctx, me)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	out := &oauthClientListOutput{}
	out.Body.Items = make([]oauthClientRead, len(cs))
	for i, c := range cs {
		out.Body.Items[i] = toOAuthClientRead(c)
	}
	return out, nil
}

func (a *api) getOAuthClient(ctx context.Context, in *oauthClientInput) (*oauthClientOutput, error) {
	svc, err := a.clientAdmin(ctx)
	var c oauthclient.Client
	if err == nil {
		me, _ := currentUser(ctx)
		c, err = svc.Get(ctx, me, in.ID)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &oauthClientOutput{Body: toOAuthClientRead(c)}, nil
}

func (a *api) updateOAuthClient(ctx context.Context, in *oauthClientUpdateInput) (*oauthClientOutput, error) {
	svc, err := a.clientAdmin(ctx)
	var c oauthclient.Client
	if err == nil {
		me, _ := currentUser(ctx)
		b := in.Body
		c, err = svc.Update(ctx, me, in.ID, oauthclient.Patch{
			Name: b.Name, RedirectURIs: b.RedirectURIs, PostLogoutRedirectURIs: b.PostLogoutRedirectURIs,
			Grants: b.GrantTypes, Scopes: b.Scopes, FirstParty: b.FirstParty,
		})
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &oauthClientOutput{Body: toOAuthClientRead(c)}, nil
}

func (a *api) deleteOAuthClient(ctx context.Context, in *oauthClientInput) (*struct{}, error) {
	svc, err := a.clientAdmin(ctx)
	if err == nil {
		me, _ := currentUser(ctx)
		err = svc.Delete(ctx, me, in.ID)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return nil, nil
}

func (a *api) rotateOAuthClientSecret(ctx context.Context, in *oauthClientInput) (*oauthClientSecretOutput, error) {
	svc, err := a.clientAdmin(ctx)
	var c oauthclient.Client
	var secret string
	if err == nil {
		me, _ := currentUser(ctx)
		c, secret, err = svc.RotateSecret(ctx, me, in.ID)
	}
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	return &oauthClientSecretOutput{Body: oauthClientWithSecret{toOAuthClientRead(c), secret}}, nil
}

// documentClientURIs gives the redirect URIs of the client bodies an
// example each (huma's example tag would describe the whole list).
func documentClientURIs(doc *huma.OpenAPI) {
	examples := map[string]any{
		"redirect_uris":             "https://app.example.com/api/auth/callback/usersvc",
		"post_logout_redirect_uris": "https://app.example.com/",
	}
	for _, s := range doc.Components.Schemas.Map() {
		for name, ex := range examples {
			if p := s.Properties[name]; p != nil && p.Items != nil {
				items := *p.Items
				items.Examples = []any{ex}
				p.Items = &items
			}
		}
	}
}
