package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// Discovery: the authorization server metadata (RFC 8414) and the OpenID
// Connect discovery document with what exists now, so that verifiers and
// gateways configured with the issuer alone find the keys and endpoints.

// Discovery is what the discovery documents publish. A zero PublicURL
// answers them 404: without an external base URL there are no absolute
// links to give.
type Discovery struct {
	// PublicURL is the service's external base URL, without a trailing
	// slash (USERSVC_PUBLIC_URL).
	PublicURL string
	// Issuer is the tokens' iss, which the documents must repeat.
	Issuer string
	// SigningAlg is the algorithm access tokens are signed with.
	SigningAlg string
	// Docs says whether /docs is served (service_documentation).
	Docs bool
	// OpenID is the OpenID provider's part of the documents; nil
	// without one.
	OpenID *OpenID
}

// OpenID is what the discovery documents say of the OpenID provider: its
// endpoints' paths and its scopes.
type OpenID struct {
	Authorization, Userinfo, Introspection, EndSession string
	Scopes                                             []string
}

// discoveryCacheControl lets clients keep the documents for an hour: they
// change only with the configuration.
const discoveryCacheControl = "public, max-age=3600"

// The routes of the documents and of what they link to.
const (
	pathOAuthMetadata  = "/.well-known/oauth-authorization-server"
	pathOpenIDMetadata = "/.well-known/openid-configuration"
	pathJWKS           = "/.well-known/jwks.json"
	pathRevoke         = "/api/v1/revoke"
	pathDocs           = "/docs"
)

// errNoPublicURL answers the discovery documents while USERSVC_PUBLIC_URL
// is unset.
var errNoPublicURL = errors.New("discovery is off: the service's external base URL (USERSVC_PUBLIC_URL) is not configured")

// serverMetadata is RFC 8414's authorization server metadata; the OpenID
// discovery document is the same with the OpenID members (omitted from the
// RFC 8414 one) set.
type serverMetadata struct {
	Issuer                                 string   `json:"issuer" doc:"The tokens' iss: the URL these documents are found under"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	JWKSURI                                string   `json:"jwks_uri"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported" nullable:"false"`
	GrantTypesSupported                    []string `json:"grant_types_supported" nullable:"false"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported" nullable:"false" doc:"none: public clients"`
	ResponseTypesSupported                 []string `json:"response_types_supported" nullable:"false" doc:"Empty: there is no authorization endpoint yet"`
	ServiceDocumentation                   string   `json:"service_documentation,omitempty"`
	// The OpenID provider's members (both documents), when there is one.
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty" doc:"The authorization code flow with PKCE (S256)"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty" doc:"RFC 7662, for confidential clients"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty" nullable:"false"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty" nullable:"false"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty" nullable:"false"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty" nullable:"false"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty" doc:"RFC 9207"`
	// The OpenID members: /.well-known/openid-configuration only.
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty" nullable:"false" doc:"OpenID discovery only"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty" nullable:"false" doc:"OpenID discovery only: the algorithm tokens are signed with"`
	ClaimsSupported                  []string `json:"claims_supported,omitempty" nullable:"false" doc:"OpenID discovery only: the claims of the access tokens"`
	UserinfoEndpoint                 string   `json:"userinfo_endpoint,omitempty" doc:"OpenID discovery only, with the provider"`
	EndSessionEndpoint               string   `json:"end_session_endpoint,omitempty" doc:"OpenID discovery only, with the provider: RP-initiated logout"`
	PromptValuesSupported            []string `json:"prompt_values_supported,omitempty" nullable:"false" doc:"OpenID discovery only, with the provider"`
	// RequestURIParameterSupported is false, always: OpenID discovery
	// makes an absent one true, and no request_uri is read.
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported" doc:"false: requests are not passed by reference (request_uri)"`
}

type serverMetadataOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         serverMetadata
}

// metadata is the RFC 8414 document of d.
func (d Discovery) metadata() serverMetadata {
	m := serverMetadata{
		Issuer:                                 d.Issuer,
		TokenEndpoint:                          d.PublicURL + tokenPath,
		JWKSURI:                                d.PublicURL + pathJWKS,
		RevocationEndpoint:                     d.PublicURL + pathRevoke,
		RevocationEndpointAuthMethodsSupported: []string{"none"},
		GrantTypesSupported:                    []string{grantPassword, grantRefresh},
		TokenEndpointAuthMethodsSupported:      []string{"none"},
		ResponseTypesSupported:                 []string{},
	}
	if d.Docs {
		m.ServiceDocumentation = d.PublicURL + pathDocs
	}
	if o := d.OpenID; o != nil {
		m.AuthorizationEndpoint = d.PublicURL + o.Authorization
		m.IntrospectionEndpoint = d.PublicURL + o.Introspection
		m.IntrospectionEndpointAuthMethodsSupported = []string{oauthSecretBasic}
		m.GrantTypesSupported = append(m.GrantTypesSupported, grantAuthorizationCode, grantClientCredentials)
		m.TokenEndpointAuthMethodsSupported = append(m.TokenEndpointAuthMethodsSupported, oauthSecretBasic, oauthSecretPost)
		// /revoke authenticates a client as /token does (revoker).
		m.RevocationEndpointAuthMethodsSupported = append(m.RevocationEndpointAuthMethodsSupported, oauthSecretBasic, oauthSecretPost)
		m.ResponseTypesSupported = []string{"code"}
		m.ResponseModesSupported = []string{"query"}
		m.CodeChallengeMethodsSupported = []string{"S256"}
		m.ScopesSupported = o.Scopes
		m.AuthorizationResponseIssParameterSupported = true
	}
	return m
}

// The client authentication methods and grants of the OpenID provider.
const (
	oauthSecretBasic       = "client_secret_basic"
	oauthSecretPost        = "client_secret_post"
	grantAuthorizationCode = "authorization_code"
	grantClientCredentials = "client_credentials"
)

// openIDMetadata is the OpenID discovery document of d.
func (d Discovery) openIDMetadata() serverMetadata {
	m := d.metadata()
	m.SubjectTypesSupported = []string{"public"}
	m.IDTokenSigningAlgValuesSupported = []string{d.SigningAlg}
	m.ClaimsSupported = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid"}
	if o := d.OpenID; o != nil {
		m.UserinfoEndpoint = d.PublicURL + o.Userinfo
		m.EndSessionEndpoint = d.PublicURL + o.EndSession
		m.PromptValuesSupported = []string{"none", "login", "consent"}
		m.ClaimsSupported = append(m.ClaimsSupported, "auth_time", "nonce", "amr", "acr", "at_hash", "azp",
			"client_id", "scope", "preferred_username", "name", "updated_at", "email", "email_verified")
	}
	return m
}

// discoveryRoutes registers the two discovery documents of d.
func (a *api) discoveryRoutes(d Discovery) {
	off := func(ctx context.Context) error {
		if d.PublicURL == "" {
			return a.problem(ctx, errNoPublicURL)
		}
		return nil
	}
	huma.Register(a.huma, a.op("GET "+pathOAuthMetadata, "oauthServerMetadata", http.StatusOK,
		"Authorization server metadata (RFC 8414)", http.StatusNotFound),
		func(ctx context.Context, _ *struct{}) (*serverMetadataOutput, error) {
			if err := off(ctx); err != nil {
				return nil, err
			}
			return &serverMetadataOutput{CacheControl: discoveryCacheControl, Body: d.metadata()}, nil
		})
	huma.Register(a.huma, a.op("GET "+pathOpenIDMetadata, "openidConfiguration", http.StatusOK,
		"OpenID Connect discovery document: the OpenID provider's endpoints when it is on (asymmetric keys and a public URL)", http.StatusNotFound),
		func(ctx context.Context, _ *struct{}) (*serverMetadataOutput, error) {
			if err := off(ctx); err != nil {
				return nil, err
			}
			return &serverMetadataOutput{CacheControl: discoveryCacheControl, Body: d.openIDMetadata()}, nil
		})
}
