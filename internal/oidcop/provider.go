// Package oidcop is the service's OpenID provider (issue 23): the
// authorization code flow with PKCE, the refresh_token and
// client_credentials grants, ID tokens, userinfo, introspection and
// RP-initiated logout, on github.com/zitadel/oidc/v3's op package, with
// its state in our databases (Grants, Consents), its clients from the
// client registry (Clients), its keys from the signing key ring, and
// sign-in handed to the hosted pages (Browser).
package oidcop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usersvc/usersvc/internal/user"
)

// The provider's paths. The token endpoint is the service's one
// (/api/v1/token), which hands the grants Takes says are ours to Token;
// the keys are the service's JWKS.
const (
	AuthorizePath  = "/oauth/authorize"
	UserinfoPath   = "/oauth/userinfo"
	IntrospectPath = "/oauth/introspect"
	RevokePath     = "/oauth/revoke"
	EndSessionPath = "/oauth/end_session"
	TokenPath      = "/api/v1/token" //nolint:gosec // a path, no credential
	KeysPath       = "/.well-known/jwks.json"
	loginPath      = "/oauth/login"   // the handoff from and back to sign-in
	consentPath    = "/oauth/consent" // the consent form posts here
)

// Scopes are the scopes of the OpenID layer the provider supports.
func Scopes() []string { return append([]string(nil), openIDScopes...) }

// Config is the provider's configuration.
type Config struct {
	// Issuer is the tokens' iss (USERSVC_JWT_ISSUER, by default the
	// public URL); Alg the key ring's algorithm (EdDSA or ES256).
	Issuer string
	Alg    string
	// Audience is the aud of service accounts' access tokens: the
	// service's own (USERSVC_JWT_AUDIENCE), as on its user tokens.
	Audience string
	// Lifetimes: access and ID tokens, refresh tokens, a code, an
	// authorization request waiting for sign-in.
	AccessTokenTTL, IDTokenTTL, RefreshTTL, CodeTTL, RequestTTL time.Duration
	// CryptoKey makes the codes (op encrypts the request id under it).
	CryptoKey [32]byte
	// SignInPath is the hosted sign-in page (/sign-in); LoggedOutURL
	// where RP-initiated logout ends without a post_logout_redirect_uri.
	SignInPath   string
	LoggedOutURL string
	// CORSOrigins may call userinfo and introspection from a browser.
	CORSOrigins []string
}

// Browser is the hosted pages' browser session (web.Pages.Current).
type Browser interface {
	Current(r *http.Request) (user.User, user.Session, bool)
}

// Accounts checks a session and its account (user.Sessions.UserSession).
type Accounts interface {
	UserSession(ctx context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error)
}

// Sessions ends a session (user.Service.Logout).
type Sessions interface {
	Logout(ctx context.Context, userID, sessionID uuid.UUID) error
}

// Assurance applies the service's MFA policy to a caller
// (user.Service.RequireAssurance).
type Assurance interface {
	RequireAssurance(ctx context.Context, c user.Caller, admin bool) error
}

// Keys is the signing key ring (security.KeySource's signing half).
type Keys interface {
	SigningKey() (kid string, key any, err error)
}

// Deps are the provider's collaborators.
type Deps struct {
	Stores   Stores
	Clients  Clients
	Browser  Browser
	Accounts Accounts
	Sessions Sessions
	// Assurance applies USERSVC_REQUIRE_MFA_FOR to the browser's session
	// as the API and the account pages do; nil: no policy.
	Assurance Assurance
	Keys      Keys
	JWKS      func() jose.JSONWebKeySet
	// Pages renders the consent page and the pages of a request that
	// cannot go back to its client (the hosted pages'); nil: consent
	// cannot be asked (consent_required) and those requests are answered
	// in plain text.
	Pages Pages
	// Problem writes err as the API writes its errors (httpapi.WriteError:
	// the error table's status, code and detail as a JSON problem), for a
	// program's request that cannot go back to its client
	// (ErrInvalidAuthorization); nil: such requests get the page.
	Problem func(w http.ResponseWriter, r *http.Request, err error)
	Now     func() time.Time
	Logger  *slog.Logger
}

// Provider serves the OpenID provider's endpoints.
type Provider struct {
	op      *op.Provider
	st      *storage
	cfg     Config
	d       Deps
	handler http.Handler
}

// New returns the provider of cfg over d.
func New(cfg Config, d Deps) (*Provider, error) {
	if cfg.Alg != "EdDSA" && cfg.Alg != "ES256" {
		return nil, errors.New("the OpenID provider needs asymmetric signing keys (USERSVC_JWT_ALG EdDSA or ES256)")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	st := &storage{cfg: cfg, d: d}
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(strings.TrimPrefix(AuthorizePath, "/"))),
		op.WithCustomTokenEndpoint(op.NewEndpoint(strings.TrimPrefix(TokenPath, "/"))),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(strings.TrimPrefix(UserinfoPath, "/"))),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(strings.TrimPrefix(IntrospectPath, "/"))),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(strings.TrimPrefix(RevokePath, "/"))),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(strings.TrimPrefix(EndSessionPath, "/"))),
		op.WithCustomKeysEndpoint(op.NewEndpoint(strings.TrimPrefix(KeysPath, "/"))),
		op.WithCORSOptions(corsOptions(cfg.CORSOrigins)),
		// op verifies RS256, ES256 and PS256 unless told: ours is the ring's.
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(cfg.Alg)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(cfg.Alg)),
	}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure()) // development and tests only: config refuses it in production
	}
	o, err := op.NewProvider(&op.Config{
		CryptoKey: cfg.CryptoKey, DefaultLogoutRedirectURI: cfg.LoggedOutURL, CodeMethodS256: true,
		AuthMethodPost: true, GrantTypeRefreshToken: true, SupportedScopes: Scopes(),
	}, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	st.codes = o.Crypto()
	p := &Provider{op: o, st: st, cfg: cfg, d: d}
	issuer := op.NewIssuerInterceptor(o.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.Handle("GET "+loginPath, issuer.HandlerFunc(p.login))
	mux.Handle("POST "+consentPath, http.NewCrossOriginProtection().Handler(issuer.HandlerFunc(p.consent)))
	mux.Handle(EndSessionPath, issuer.HandlerFunc(p.endSession))
	mux.Handle(AuthorizePath, p.bindBrowser(p.refusals(withIss(byReference(o), cfg.Issuer))))
	// op's /oauth/authorize/callback hands out a code for any finished
	// request to whoever names its id, without a session; finish answers
	// the client itself (op.AuthResponse), so nothing needs the route.
	mux.Handle(AuthorizePath+"/", http.NotFoundHandler())
	mux.Handle(UserinfoPath, bearerErrors(o))
	mux.Handle("/oauth/", o)
	p.handler = mux
	return p, nil
}

// corsOptions lets the configured origins call the provider's endpoints
// from a browser, without credentials; none when there are none.
func corsOptions(origins []string) *cors.Options {
	return &cors.Options{
		AllowOriginFunc: func(origin string) bool {
			for _, o := range origins {
				if o == origin {
					return true
				}
			}
			return false
		},
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
	}
}

// ServeHTTP serves /oauth/..., noting how a client authenticates
// (introspection, revocation) for the storage to hold it to its
// registered method.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.handler.ServeHTTP(w, withAuthMethod(r))
}

// Takes reports whether a token request of grantType (with refreshToken,
// for the refresh_token grant) is the provider's: the authorization code
// and client credentials grants, and refresh tokens it issued. The
// password grant and the service's own refresh tokens are not.
func Takes(grantType, refreshToken string) bool {
	switch grantType {
	case GrantAuthorizationCode, GrantClientCredentials:
		return true
	case GrantRefreshToken:
		return isRefreshToken(refreshToken)
	}
	return false
}

// Revoke answers a revocation (RFC 7009) sent to the service's
// revocation endpoint (/api/v1/revoke, the one the discovery documents
// name) of a token Revokes says is the provider's, as /oauth/revoke
// answers it: the client authenticated by its registered method, and the
// token's grant revoked when it is that client's.
func (p *Provider) Revoke(w http.ResponseWriter, r *http.Request) {
	r = withAuthMethod(r)
	op.Revoke(w, r.WithContext(op.ContextWithIssuer(r.Context(), p.cfg.Issuer)), p.op)
}

// Revokes reports whether token, sent to the service's revocation
// endpoint, is the provider's: one of its refresh tokens, or a JWT whose
// jti names one of its grants. It only routes, reading the jti
// unverified: Revoke verifies the token, so a made-up one revokes nothing.
func Revokes(token string) bool {
	if isRefreshToken(token) {
		return true
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		ID string `json:"jti"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	_, ok := grantOfToken(claims.ID)
	return ok
}

// byReference marks, in the request's context, an authorization request
// that passes its parameters by reference (request_uri), which op does
// not see: CreateAuthRequest refuses it once op has checked the client and
// its redirect_uri, so that the refusal goes back to the client.
func byReference(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if namesRequestURI(r) {
			r = r.WithContext(context.WithValue(r.Context(), byReferenceKey{}, true))
		}
		h.ServeHTTP(w, r)
	})
}

// namesRequestURI reports whether r has a request_uri, in its query or
// its form body, without parsing r's form: op parses it, and must meet
// its errors itself (a malformed query is refused as invalid_request);
// a form r parsed already hides them from op's ParseForm.
func namesRequestURI(r *http.Request) bool {
	if q, _ := url.ParseQuery(r.URL.RawQuery); q.Get("request_uri") != "" { // what parses, on error too
		return true
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), failedReader{err})) // for op, as it came
	form, _ := url.ParseQuery(string(body))
	return form.Get("request_uri") != ""
}

// failedReader gives back err, the error a read of a body met, to the
// next reader of what was read of it (nil: io.EOF).
type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) {
	if f.err == nil {
		return 0, io.EOF
	}
	return 0, f.err
}

// byReferenceKey is the context key of byReference.
type byReferenceKey struct{}

// errRequestURI refuses a request passed by reference (OpenID Connect Core
// 6.2; discovery says request_uri_parameter_supported: false): op's own
// error type, written as the specification names it, new at each use (op
// may change the error it is handed).
func errRequestURI() *oidc.Error {
	return &oidc.Error{ErrorType: "request_uri_not_supported",
		Description: "request_uri is not supported: pass the parameters in the request itself"}
}

// withIss adds the iss authorization response parameter (RFC 9207) to
// every redirect that h sends back to a client with a code or an error,
// in the query or, for an answer op puts there, the fragment.
func withIss(h http.Handler, issuer string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&issWriter{ResponseWriter: w, iss: issuer}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if u, err := url.Parse(w.Header().Get("Location")); err == nil && u.Scheme != "" {
			if q := u.Query(); isAnswer(q) {
				q.Set("iss", w.iss)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			} else if f, err := url.ParseQuery(u.EscapedFragment()); err == nil && isAnswer(f) {
				f.Set("iss", w.iss)
				u.RawFragment = f.Encode()
				u.Fragment, _ = url.PathUnescape(u.RawFragment) // as op sets its fragments
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// isAnswer reports whether params are an authorization response: a code
// or an error.
func isAnswer(params url.Values) bool { return params.Has("code") || params.Has("error") }

// fail answers the auth request r with the error e at its redirect URI.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, req AuthRequest, e *oidc.Error) {
	op.AuthRequestError(&issWriter{ResponseWriter: w, iss: p.cfg.Issuer}, r, &authRequest{req}, e, p.op)
}
