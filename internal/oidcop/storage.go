package oidcop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usersvc/usersvc/internal/user"
)

// Token formats. Refresh tokens carry a prefix so that the token endpoint
// tells them from the password grant's refresh tokens; access token ids
// (the JWTs' jti) name their grant, or say they are a service account's.
const (
	// RefreshPrefix starts every refresh token the provider issues.
	RefreshPrefix = "ort_"
	userTokenID   = "g." // + grant id + "." + random [+ "." + narrowed scopes]
	serviceToken  = "s." // + random
)

// The scopes of the OpenID layer; a client's own (users:read...) come on
// top for service accounts.
var openIDScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}

// storage is op.Storage over our stores, clients, accounts and keys.
type storage struct {
	cfg Config
	d   Deps
	// codes decrypts op's authorization codes: op's own Crypto, set once
	// op is made.
	codes op.Crypto
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func (s *storage) now() time.Time { return s.d.Now().UTC() }

func random() string {
	b := make([]byte, randomBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomBytes is the randomness of random's strings.
const randomBytes = 32

// isRefreshToken reports whether token has the form of the provider's
// refresh tokens: RefreshPrefix and a random string. The prefix alone
// does not tell: the service's own refresh tokens are random base64url
// of random's length without it, so one in 64^4 begins with it.
func isRefreshToken(token string) bool {
	return strings.HasPrefix(token, RefreshPrefix) &&
		len(token) == len(RefreshPrefix)+base64.RawURLEncoding.EncodedLen(randomBytes)
}

func digest(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// CreateAuthRequest stores a validated /authorize request. On top of op's
// checks: PKCE with S256 for public clients (and S256 only for everyone),
// the query response mode only (where the iss parameter goes), and the
// scopes we know. hintSubject is the sub of the id_token_hint op
// verified ("" without one).
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	if err := oversized(req); err != nil {
		return nil, err
	}
	if byRef, _ := ctx.Value(byReferenceKey{}).(bool); byRef {
		return nil, errRequestURI()
	}
	c, err := s.d.Clients.Client(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	switch {
	case req.CodeChallenge == "" && c.Public():
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for public clients")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	// A client's registered scopes bound what it gets; one registered
	// without any gets the OpenID ones.
	scopes := slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool {
		if len(c.Scopes) == 0 {
			return !slices.Contains(openIDScopes, sc)
		}
		return !slices.Contains(c.Scopes, sc)
	})
	if !slices.Contains(c.GrantTypes, GrantRefreshToken) {
		scopes = slices.DeleteFunc(scopes, func(sc string) bool { return sc == oidc.ScopeOfflineAccess })
	}
	now := s.now()
	r := AuthRequest{
		ID: uuid.NewString(), ClientID: c.ID, RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		Scopes: scopes, ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt: req.Prompt, MaxAge: req.MaxAge, LoginHint: req.LoginHint,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RequestTTL),
		HintSubject: hintSubject, BrowserHash: browserHash(ctx), // checked at login and consent
	}
	if err := s.d.Stores.Grants.SaveAuthRequest(ctx, r); err != nil {
		return nil, err
	}
	return &authRequest{r}, nil
}

// The most an authorization request may carry of what it stores as sent:
// anyone may make one, unauthenticated, and it is kept for RequestTTL.
// They are above what relying parties send (a random state or nonce, an
// email as the login hint, S256's 43 characters, a handful of scopes)
// and in line with other providers' bounds.
const (
	maxState         = 2048
	maxNonce         = 512
	maxLoginHint     = 512
	maxCodeChallenge = maxVerifier // RFC 7636 4.2: a plain challenge is its verifier
	maxScopes        = 32
)

// oversized refuses, invalid_request, a request carrying more than those.
func oversized(req *oidc.AuthRequest) *oidc.Error {
	for _, p := range []struct {
		name, unit    string
		length, limit int
	}{
		{"state", "bytes", len(req.State), maxState},
		{"nonce", "bytes", len(req.Nonce), maxNonce},
		{"login_hint", "bytes", len(req.LoginHint), maxLoginHint},
		{"code_challenge", "bytes", len(req.CodeChallenge), maxCodeChallenge},
		{"scope", "scopes", len(req.Scopes), maxScopes},
	} {
		if p.length > p.limit {
			return oidc.ErrInvalidRequest().WithDescription("%s is too long: at most %d %s", p.name, p.limit, p.unit)
		}
	}
	return nil
}

// AuthRequestByID returns a request that has not expired.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.request(ctx, id)
	if err != nil {
		return nil, err
	}
	return &authRequest{r}, nil
}

func (s *storage) request(ctx context.Context, id string) (AuthRequest, error) {
	r, err := s.d.Stores.Grants.AuthRequest(ctx, id)
	if err != nil {
		return AuthRequest{}, err
	}
	if !s.now().Before(r.ExpiresAt) {
		return AuthRequest{}, ErrNotFound
	}
	return r, nil
}

// AuthRequestByCode returns the request code was issued for, changing
// nothing: op has yet to authenticate the client presenting it, compare
// it with the request's, and check the PKCE verifier and the redirect
// URI, and a code travels in a URL (browser history, Referer, access
// logs), so whoever merely holds one must neither use it up nor replay
// it into revoking its grant. grantOf uses it, or finds its replay, once
// op has. op's codes are the request id encrypted by op's Crypto
// (op.BuildAuthRequestCode); the code's hash kept with the request is
// what binds the two. An exchanged code (its request names a grant) is
// returned after it expired too, so that its replay is still found.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	id, err := s.codes.Decrypt(code)
	if err != nil || uuid.Validate(id) != nil {
		return nil, ErrNotFound
	}
	r, err := s.d.Stores.Grants.AuthRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(r.CodeHash, digest(code)) != 1 {
		return nil, ErrNotFound
	}
	if r.GrantID == "" && (!s.now().Before(r.ExpiresAt) || !r.Done) {
		return nil, errors.New("oidc: authorization code expired")
	}
	return &authRequest{r}, nil
}

// codeReplayed answers a second use of a code: it revokes the grant the
// first use made (RFC 6749 section 4.1.2), which Grants.UseCode stored
// with that use, so that a second use racing the first finds it too, and
// is invalid_grant.
func (s *storage) codeReplayed(ctx context.Context, used AuthRequest, now time.Time) error {
	if used.GrantID != "" {
		if err := s.d.Stores.Grants.RevokeGrant(ctx, used.GrantID, now); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	s.d.Logger.WarnContext(ctx, "oidc: authorization code replayed; its grant is revoked", "client_id", used.ClientID, "grant_id", used.GrantID)
	return oidc.ErrInvalidGrant().WithParent(ErrCodeUsed)
}

// SaveAuthCode keeps code's hash with its request, which now lives only
// as long as a code does. A request gets one code: a second would be a
// fresh, unused code for a grant already handed out.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	r, err := s.request(ctx, id)
	if err != nil {
		return err
	}
	if r.CodeHash != nil {
		return ErrCodeIssued
	}
	r.CodeHash, r.ExpiresAt = digest(code), s.now().Add(s.cfg.CodeTTL)
	return s.d.Stores.Grants.SaveAuthRequest(ctx, r)
}

// DeleteAuthRequest keeps the request: its used code must still be
// recognised, to revoke what it gave when it is replayed. It expires with
// the code.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// grantOf uses the code of r, which op has checked is presented by its
// client, and makes the grant of the exchange in the same transaction
// (Grants.UseCode), so that any other use of the code, before or after
// this one ends, finds the grant to revoke. An account or session that
// ended refuses the code before it is used: the grant of an earlier use
// ended with them, for good. So does a third-party client's consent taken
// back since the code was issued (consented).
func (s *storage) grantOf(ctx context.Context, r *authRequest) (Grant, error) {
	u, err := s.liveAccount(ctx, r.UserID, r.SessionID)
	if err != nil {
		return Grant{}, err
	}
	if err := s.consented(ctx, r); err != nil {
		return Grant{}, err
	}
	now := s.now()
	g := Grant{
		ID: uuid.NewString(), ClientID: r.ClientID, UserID: r.UserID, SessionID: r.SessionID, Scopes: r.Scopes,
		AMR: r.AMR, ACR: r.ACR, AuthTime: r.AuthTime, CreatedAt: now, TokenVersion: u.TokenVersion,
	}
	used, err := s.d.Stores.Grants.UseCode(ctx, r.CodeHash, g)
	if errors.Is(err, ErrCodeUsed) {
		return Grant{}, s.codeReplayed(ctx, used, now)
	}
	if err != nil {
		return Grant{}, err
	}
	r.GrantID = g.ID
	return g, nil
}

// errConsentWithdrawn is a code of a third-party client whose consent the
// user took back after allowing it.
var errConsentWithdrawn = errors.New("oidc: the user took back the consent this code was issued under")

// consented refuses, invalid_grant, the code of r when its client is a
// third party and the user's consent to it no longer covers r's scopes:
// taking a consent back ends the client's grants, and must end the code
// that would make the next one. (A first-party client needs none.)
func (s *storage) consented(ctx context.Context, r *authRequest) error {
	c, err := s.d.Clients.Client(ctx, r.ClientID)
	if err != nil {
		return clientError(err)
	}
	if c.FirstParty {
		return nil
	}
	given, err := s.d.Stores.Consents.Consent(ctx, r.UserID, r.ClientID)
	if errors.Is(err, ErrNotFound) {
		return oidc.ErrInvalidGrant().WithParent(errConsentWithdrawn)
	}
	if err != nil {
		return err
	}
	for _, sc := range r.Scopes {
		if !slices.Contains(given.Scopes, sc) {
			return oidc.ErrInvalidGrant().WithParent(errConsentWithdrawn)
		}
	}
	return nil
}

// CreateAccessToken returns the id (jti) and expiry of a new access token.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	exp := s.now().Add(s.cfg.AccessTokenTTL)
	switch r := req.(type) {
	case *authRequest:
		g, err := s.grantOf(ctx, r)
		if err != nil {
			return "", time.Time{}, err
		}
		return accessTokenID(g, g.Scopes), exp, nil
	case *serviceRequest:
		return serviceToken + random(), exp, nil
	case *refreshRequest:
		return accessTokenID(r.grant, r.scopes), exp, nil
	default:
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
}

// CreateAccessAndRefreshTokens returns a new access token's id and expiry
// and a new refresh token of the same grant; for a refresh, the new token
// replaces the one presented (rotation), which op has checked belongs to
// the client presenting it.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	var g Grant
	var replaces []byte
	scopes := req.GetScopes()
	switch r := req.(type) {
	case *authRequest:
		var err error
		if g, err = s.grantOf(ctx, r); err != nil {
			return "", "", time.Time{}, err
		}
	case *refreshRequest:
		g, replaces = r.grant, r.token
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	now := s.now()
	token := RefreshPrefix + random()
	rt := RefreshToken{Hash: digest(token), GrantID: g.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	if err := s.rotate(ctx, rt, replaces, g.ID); err != nil {
		return "", "", time.Time{}, err
	}
	return accessTokenID(g, scopes), token, now.Add(s.cfg.AccessTokenTTL), nil
}

// rotate stores rt in place of the token replaces (nil: none). A replaced
// token used before revokes grant (RFC 9700 4.14.2: refresh token
// rotation); one gone meanwhile refreshes nothing. Both are invalid_grant.
func (s *storage) rotate(ctx context.Context, rt RefreshToken, replaces []byte, grant string) error {
	err := s.d.Stores.Grants.AddRefreshToken(ctx, rt, replaces)
	switch {
	case errors.Is(err, ErrRefreshReused):
		s.d.Logger.WarnContext(ctx, "oidc: refresh token reused; its grant is revoked", "grant_id", grant)
		if err := s.d.Stores.Grants.RevokeGrant(ctx, grant, rt.CreatedAt); err != nil {
			return err
		}
		return oidc.ErrInvalidGrant().WithParent(ErrRefreshReused)
	case errors.Is(err, ErrNotFound):
		return oidc.ErrInvalidGrant().WithParent(err)
	}
	return err
}

// TokenRequestByRefreshToken returns the grant of token, if the token has
// not expired and the grant, its session and its account are still live.
// It changes nothing: op has yet to compare the grant's client with the
// one presenting the token, and a token shown by another client must be
// neither used up nor taken for a reuse that revokes its grant; the
// token is replaced, or its reuse found, in CreateAccessAndRefreshTokens,
// once op has.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	if !strings.HasPrefix(token, RefreshPrefix) {
		return nil, op.ErrInvalidRefreshToken
	}
	rt, err := s.d.Stores.Grants.RefreshToken(ctx, digest(token))
	if err != nil {
		return nil, err
	}
	if rt.UsedAt.IsZero() && !s.now().Before(rt.ExpiresAt) {
		return nil, errors.New("oidc: refresh token expired")
	}
	g, err := s.liveGrant(ctx, rt.GrantID)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{grant: g, scopes: g.Scopes, token: rt.Hash}, nil
}

// errNotLive is a grant revoked, or whose client, session or account
// ended, or whose account changed its password since.
var errNotLive = errors.New("oidc: the grant, its client, its session or its account has ended")

// liveGrant returns grant id while it, its client, its session and its
// account live and the account's password has not changed since it was
// made (the service's promise for every token issued before a password
// change, docs/security.md). A deleted client holds nothing that works.
func (s *storage) liveGrant(ctx context.Context, id string) (Grant, error) {
	g, err := s.d.Stores.Grants.Grant(ctx, id)
	if err != nil {
		return Grant{}, err
	}
	if !g.RevokedAt.IsZero() {
		return Grant{}, errNotLive
	}
	if _, err := s.d.Clients.Client(ctx, g.ClientID); errors.Is(err, ErrUnknownClient) {
		return Grant{}, errNotLive
	} else if err != nil {
		return Grant{}, err
	}
	u, err := s.liveAccount(ctx, g.UserID, g.SessionID)
	if err != nil {
		return Grant{}, err
	}
	if u.TokenVersion != g.TokenVersion {
		return Grant{}, errNotLive
	}
	return g, nil
}

// liveAccount returns the user of a session that is live, of an account
// that is active.
func (s *storage) liveAccount(ctx context.Context, userID, sessionID uuid.UUID) (user.User, error) {
	u, sess, err := s.d.Accounts.UserSession(ctx, userID, sessionID)
	if errors.Is(err, user.ErrNotFound) || errors.Is(err, user.ErrSessionNotFound) {
		return user.User{}, errNotLive
	}
	if err != nil {
		return user.User{}, err
	}
	if !u.IsActive || !sess.Active(s.now()) {
		return user.User{}, errNotLive
	}
	return u, nil
}

// accessTokenID is the id (jti) of a new access token of g with scopes:
// those of a refresh that asked for fewer than g's (RFC 6749 section 6)
// are written in it, so that introspection and userinfo, which op hands
// the id alone, answer for them and not for g's (tokenScopes).
func accessTokenID(g Grant, scopes []string) string {
	id := userTokenID + g.ID + "." + random()
	if slices.Equal(scopes, g.Scopes) {
		return id
	}
	return id + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(scopes, " ")))
}

// tokenScopes are the scopes of g's access token tokenID: g's, or those
// written in it (accessTokenID) that g has.
func tokenScopes(tokenID string, g Grant) []string {
	parts := strings.Split(tokenID, ".")
	if len(parts) < 4 {
		return g.Scopes
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(strings.Fields(string(b)), func(sc string) bool { return !slices.Contains(g.Scopes, sc) })
}

// grantOfToken is the grant id an access token id names ("" for a service
// account's token).
func grantOfToken(tokenID string) (string, bool) {
	rest, ok := strings.CutPrefix(tokenID, userTokenID)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ".")
	return id, ok
}

// TerminateSession is not used: TerminateSessionFromRequest is.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the page session of RP-initiated
// logout: the browser's own session (put in the context by the
// end_session handler), when the ID token hint, if any, names it. A hint
// for a session that is not the requesting browser's ends nothing: anyone
// holding an ID token (a relying party's log, a leaked token) could
// otherwise sign its user out everywhere it reaches. It returns where to
// go next either way.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if b, ok := ctx.Value(browserKey{}).(browserSession); ok && hintNames(req.IDTokenHintClaims, b) {
		if err := s.logout(ctx, b.userID, b.sessionID); err != nil {
			return "", err
		}
	}
	if req.RedirectURI != "" {
		return req.RedirectURI, nil
	}
	return s.cfg.LoggedOutURL, nil
}

// hintNames reports whether hint (nil: none) names the browser session b:
// its user and, when it carries one, its sid.
func hintNames(hint *oidc.IDTokenClaims, b browserSession) bool {
	if hint == nil {
		return true
	}
	if userID, err := uuid.Parse(hint.Subject); err != nil || userID != b.userID {
		return false
	}
	sid := hint.SessionID
	if c, ok := hint.Claims["sid"].(string); ok && sid == "" {
		sid = c
	}
	if sid == "" {
		return true
	}
	sessionID, err := uuid.Parse(sid)
	return err == nil && sessionID == b.sessionID
}

func (s *storage) logout(ctx context.Context, userID, sessionID uuid.UUID) error {
	err := s.d.Sessions.Logout(ctx, userID, sessionID)
	if errors.Is(err, user.ErrSessionNotFound) || errors.Is(err, user.ErrNotFound) {
		return nil // already ended
	}
	return err
}

// RevokeToken revokes the grant of a refresh token or access token id
// (RFC 7009 at /oauth/revoke), when the grant is the authenticated
// client's, changing nothing otherwise. op hands over an access token's
// id with its subject only once it verified the token; without a subject,
// tokenOrID is the caller's raw parameter, which must not be read as an
// id (anyone could name a grant), only looked up as a refresh token.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, subject, clientID string) *oidc.Error {
	now := s.now()
	id, ok := "", false
	if subject != "" {
		id, ok = grantOfToken(tokenOrID)
	}
	if !ok && strings.HasPrefix(tokenOrID, RefreshPrefix) {
		// Read, not used up: the grant's client is compared below, and a
		// token another client shows must stay its owner's.
		rt, err := s.d.Stores.Grants.RefreshToken(ctx, digest(tokenOrID))
		if err != nil {
			return nil // unknown: nothing to revoke (RFC 7009 2.2)
		}
		id, ok = rt.GrantID, true
	}
	if !ok {
		return nil
	}
	g, err := s.d.Stores.Grants.Grant(ctx, id)
	if err != nil || g.ClientID != clientID || (subject != "" && subject != g.UserID.String()) {
		return nil
	}
	if err := s.d.Stores.Grants.RevokeGrant(ctx, id, now); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo tells op which tokens are our refresh tokens.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (string, string, error) {
	if !strings.HasPrefix(token, RefreshPrefix) {
		return "", "", op.ErrInvalidRefreshToken
	}
	return "", token, nil
}

// SigningKey is the key ring's key that signs now.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	kid, key, err := s.d.Keys.SigningKey()
	if err != nil {
		return nil, err
	}
	return signingKey{alg: jose.SignatureAlgorithm(s.cfg.Alg), id: kid, key: key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.cfg.Alg)}, nil
}

// KeySet is the ring's published keys (staged ones included), which op
// verifies access tokens and ID token hints with.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	set := s.d.JWKS()
	out := make([]op.Key, 0, len(set.Keys))
	for _, k := range set.Keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// GetClientByClientID returns a registered client.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.d.Clients.Client(ctx, id)
	if err != nil {
		return nil, clientError(err)
	}
	return opClient{c: c, ttl: s.cfg.IDTokenTTL}, nil
}

// clientError keeps a store fault a server error and makes the rest a
// plain error (op answers it invalid_client).
func clientError(err error) error {
	if errors.Is(err, ErrUnknownClient) {
		return err
	}
	return oidc.ErrServerError().WithParent(err)
}

// AuthorizeClientIDSecret authenticates a client by the method the request
// used, which must be its registered one; at introspection (Basic for
// every confidential client) its registered one stands for it.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	method := authMethodOf(ctx)
	if method == basicForAny {
		c, err := s.d.Clients.Client(ctx, id)
		if err != nil {
			return clientError(err)
		}
		method = c.AuthMethod
	}
	if _, err := s.authenticate(ctx, id, secret, method); err != nil {
		return clientError(err)
	}
	return nil
}

// authenticate is Clients.Authenticate, noting on the request's
// FailureNote when its refusal can be no guess: the confidential client
// proved its secret, or sent it by another method than its own
// (ErrWrongMethod).
func (s *storage) authenticate(ctx context.Context, id, secret, method string) (Client, error) {
	c, err := s.d.Clients.Authenticate(ctx, id, secret, method)
	if err != nil {
		if errors.Is(err, ErrWrongMethod) {
			noteNoGuess(ctx)
		}
		return Client{}, err
	}
	if !c.Public() {
		noteNoGuess(ctx)
	}
	return c, nil
}

// ClientCredentials authenticates a service account. Whether the client
// may use the grant is op's to check once it is authenticated
// (op.ValidateGrantType: unauthorized_client, RFC 6749 section 5.2): op
// answers any error from here invalid_client.
func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.authenticate(ctx, id, secret, authMethodOf(ctx))
	if err != nil {
		return nil, clientError(err)
	}
	return opClient{c: c, ttl: s.cfg.IDTokenTTL}, nil
}

// ClientCredentialsTokenRequest grants a service account the scopes it
// asks for, all of which it must be allowed; none asked means all it is
// allowed.
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, err := s.d.Clients.Client(ctx, id)
	if err != nil {
		return nil, clientError(err)
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("the client may not ask for scope %s", sc)
		}
	}
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	return &serviceRequest{clientID: c.ID, audience: s.cfg.Audience, scopes: slices.Clone(scopes)}, nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does it.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims, and its sid.
// A refresh's ID token gets the acr of the grant's sign-in here too (OpenID
// Connect Core 12.2: the original authentication's): op takes the acr of
// an op.AuthRequest only, and its auth_time and amr from both.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var userID, sessionID uuid.UUID
	switch r := req.(type) {
	case *authRequest:
		userID, sessionID = r.UserID, r.SessionID
	case *refreshRequest:
		userID, sessionID = r.grant.UserID, r.grant.SessionID
		if r.grant.ACR != "" {
			info.AppendClaims("acr", r.grant.ACR)
		}
	default:
		return nil
	}
	u, err := s.liveAccount(ctx, userID, sessionID)
	if err != nil {
		return err
	}
	userClaims(info, u, scopes)
	info.AppendClaims("sid", sessionID.String())
	return nil
}

// userClaims sets the claims scopes ask for of u.
func userClaims(info *oidc.UserInfo, u user.User, scopes []string) {
	info.Subject = u.ID.String()
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.PreferredUsername, info.Name = u.Username, u.FullName
			info.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		}
	}
}

// SetUserinfoFromToken answers /oauth/userinfo for a live grant's token
// of an OpenID request (its scopes have openid; else insufficientScope):
// any other is invalidToken, a store fault a server_error (bearerErrors
// answers them all).
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	id, ok := grantOfToken(tokenID)
	if !ok {
		return invalidToken()
	}
	g, err := s.liveGrant(ctx, id)
	if err != nil {
		return userinfoError(err)
	}
	scopes := tokenScopes(tokenID, g)
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return insufficientScope()
	}
	u, err := s.liveAccount(ctx, g.UserID, g.SessionID)
	if err != nil {
		return userinfoError(err)
	}
	userClaims(info, u, scopes)
	return nil
}

// userinfoError is invalidToken for a grant that is not stored or not
// live, else a server_error.
func userinfoError(err error) error {
	if errors.Is(err, errNotLive) || errors.Is(err, ErrNotFound) {
		return invalidToken()
	}
	return oidc.ErrServerError().WithParent(err)
}

// errOtherClient is a token introspected by a client it was not issued to.
var errOtherClient = errors.New("oidc: the token is another client's")

// SetIntrospectionFromToken makes a token active while what it stands for
// lives: a user's grant with its session and account, or a service
// account's client. Only the token's own client (the authenticated
// caller, clientID) learns that: any other is told inactive, so that one
// client cannot read another's users through their tokens (RFC 7662
// section 4).
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	if strings.HasPrefix(tokenID, serviceToken) {
		if subject != clientID {
			return errOtherClient
		}
		c, err := s.d.Clients.Client(ctx, subject)
		if err != nil {
			return err
		}
		resp.Subject, resp.ClientID, resp.TokenType = c.ID, c.ID, oidc.BearerToken
		resp.Audience = oidc.Audience{s.cfg.Audience}
		return nil
	}
	id, ok := grantOfToken(tokenID)
	if !ok {
		return errNotLive
	}
	g, err := s.liveGrant(ctx, id)
	if err != nil {
		return err
	}
	if g.ClientID != clientID {
		return errOtherClient
	}
	u, err := s.liveAccount(ctx, g.UserID, g.SessionID)
	if err != nil {
		return err
	}
	scopes := tokenScopes(tokenID, g)
	info := new(oidc.UserInfo)
	userClaims(info, u, scopes)
	resp.SetUserInfo(info)
	resp.Scope, resp.ClientID, resp.TokenType = scopes, g.ClientID, oidc.BearerToken
	resp.Audience, resp.AuthTime = oidc.Audience{g.ClientID}, oidc.FromTime(g.AuthTime)
	resp.AuthenticationMethodsReferences = g.AMR
	resp.JWTID = tokenID
	return nil
}

// GetPrivateClaimsFromScopes is not used: GetPrivateClaimsFromRequest is.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest adds to access tokens their scope and, for a
// user's, the session (a service account's has none: contracts.md).
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	claims := map[string]any{"scope": strings.Join(req.GetScopes(), " ")}
	switch r := req.(type) {
	case *authRequest:
		claims["sid"] = r.SessionID.String()
	case *refreshRequest:
		claims["sid"] = r.grant.SessionID.String()
	}
	return claims, nil
}

// GetKeyByIDAndClientID: no client authenticates with keys (no
// private_key_jwt, no JWT profile grant).
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidc: client keys are not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidc: the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// signingKey is the ring's current key as op signs with it.
type signingKey struct {
	alg jose.SignatureAlgorithm
	id  string
	key any
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

// publicKey is a published key as op verifies with it.
type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string                         { return k.k.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }
func (k publicKey) Use() string                        { return k.k.Use }
func (k publicKey) Key() any                           { return k.k.Key }
