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
	// The OpenID members: /.well-known/openid-configuration only.
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty" nullable:"false" doc:"OpenID discovery only"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty" nullable:"false" doc:"OpenID discovery only: the algorithm tokens are signed with"`
	ClaimsSupported                  []string `json:"claims_supported,omitempty" nullable:"false" doc:"OpenID discovery only: the claims of the access tokens"`
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
		"OpenID Connect discovery document: what exists now (no ID tokens or authorization endpoint yet)", http.StatusNotFound),
		func(ctx context.Context, _ *struct{}) (*serverMetadataOutput, error) {
			if err := off(ctx); err != nil {
				return nil, err
			}
			m := d.metadata()
			m.SubjectTypesSupported = []string{"public"}
			m.IDTokenSigningAlgValuesSupported = []string{d.SigningAlg}
			m.ClaimsSupported = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid"}
			return &serverMetadataOutput{CacheControl: discoveryCacheControl, Body: m}, nil
		})
}
