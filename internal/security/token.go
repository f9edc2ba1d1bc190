package security

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// MinSecretBytes is the shortest HS256 secret accepted: the hash size.
const MinSecretBytes = 32

// DefaultLeeway is the clock skew tolerated on exp, iat and nbf unless
// WithLeeway says otherwise; MaxLeeway is the most WithLeeway accepts.
const (
	DefaultLeeway = 30 * time.Second
	MaxLeeway     = 5 * time.Minute
)

// How a key rotation reaches verifiers: the JWKS says they may keep it
// for JWKSMaxAge (its Cache-Control max-age), and every serving replica
// rereads the keys every KeyReloadEvery. A staged key must be published
// for at least their sum before it signs (MinKeyPublishDelay), or a
// verifier may meet a token of a key it has not fetched yet.
const (
	JWKSMaxAge         = 5 * time.Minute
	KeyReloadEvery     = 30 * time.Second
	MinKeyPublishDelay = JWKSMaxAge + KeyReloadEvery
)

// DefaultAudience is the aud claim issued and required unless WithAudience
// says otherwise.
const DefaultAudience = "usersvc"

// JWT issues and verifies access tokens: HS256 with a shared secret
// (NewHS256), or EdDSA and ES256 with the keys of a KeySource (NewSigned).
type JWT struct {
	method   jwt.SigningMethod
	sign     func() (kid string, key any, err error)
	verify   jwt.Keyfunc
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	// verified remembers verified tokens (verified.go); nil for none.
	verified *verifiedTokens
	// keyUsable reports whether the key kid still verifies (NewSigned);
	// nil when there is one fixed key.
	keyUsable func(kid string) bool
}

// TokenOption tunes a JWT.
type TokenOption func(*JWT)

// WithAudience sets the aud claim issued and required (DefaultAudience
// otherwise).
func WithAudience(aud string) TokenOption { return func(t *JWT) { t.audience = aud } }

// WithLeeway sets the clock skew tolerated on exp, iat and nbf
// (DefaultLeeway otherwise; 0..MaxLeeway).
func WithLeeway(d time.Duration) TokenOption { return func(t *JWT) { t.leeway = d } }

// Claims are what an access token asserts about its bearer.
type Claims struct {
	UserID uuid.UUID
	// Version is the user's token version when the token was issued; a
	// password change increments it, so older tokens stop being accepted.
	Version int64
	// SessionID names the login session the token belongs to, uuid.Nil for
	// none. Revoking the session revokes its tokens.
	SessionID uuid.UUID
	// Role is the user's role when the token was issued ("role", absent
	// when empty), for the services that trust our tokens. This service
	// itself checks the role stored now, so a demotion takes effect at once.
	Role string
	// AMR and ACR say how the session's login proved its holder ("amr",
	// RFC 8176 values, and "acr"; absent when empty).
	AMR []string
	ACR string
	// ClientID is the OAuth client the token was issued to ("client_id",
	// absent when empty). A service account's token (the client_credentials
	// grant) has it as its subject too, no UserID and no session.
	ClientID string
	// Scope is the space-separated scopes granted ("scope", absent when
	// empty).
	Scope string
	// IssuedAt is when the token was issued ("iat", to the second; zero
	// when absent).
	IssuedAt time.Time
}

// IsServiceAccount reports whether c are a service account's claims: a
// client's own token (sub = client_id), with no user and no session.
func (c Claims) IsServiceAccount() bool {
	return c.ClientID != "" && c.UserID == uuid.Nil && c.SessionID == uuid.Nil
}

// claims are the JWT form of Claims: the registered claims (iss, aud, sub,
// iat, nbf, exp, jti) plus the token version ("ver") and the session id
// ("sid", absent for none).
type claims struct {
	jwt.RegisteredClaims
	Version   int64    `json:"ver"`
	SessionID string   `json:"sid,omitempty"`
	Role      string   `json:"role,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Scope     string   `json:"scope,omitempty"`
}

// NewHS256 returns a token issuer and verifier signing with HMAC-SHA256
// under secret, for single-service setups (nobody else can verify without
// the secret). now is the clock (time.Now in production).
func NewHS256(secret []byte, issuer string, ttl time.Duration, now func() time.Time, opts ...TokenOption) (*JWT, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("JWT secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	sign := func() (string, any, error) { return "", secret, nil }
	verify := func(*jwt.Token) (any, error) { return secret, nil }
	return newJWT(jwt.SigningMethodHS256, sign, verify, issuer, ttl, now, opts)
}

// KeySource holds the asymmetric keys tokens are signed and verified with.
type KeySource interface {
	// SigningKey returns the key new tokens are signed with and its id.
	SigningKey() (kid string, key any, err error)
	// VerificationKey returns the public key with id kid, or an error when
	// no usable key has that id.
	VerificationKey(kid string) (any, error)
}

// The signing algorithms: NewSigned takes EdDSA (Ed25519) and ES256
// (ECDSA on P-256 with SHA-256) with the keys of a KeySource, NewHS256 a
// shared secret. Every other package names them by these.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	HS256 = "HS256"
)

// NewSigned returns a token issuer and verifier for alg (EdDSA or ES256)
// with the keys of keys. Tokens name their key in the kid header; only
// tokens of alg, by a key keys knows, are accepted.
func NewSigned(alg string, keys KeySource, issuer string, ttl time.Duration, now func() time.Time, opts ...TokenOption) (*JWT, error) {
	var method jwt.SigningMethod
	switch alg {
	case EdDSA:
		method = jwt.SigningMethodEdDSA
	case ES256:
		method = jwt.SigningMethodES256
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	verify := func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("token has no kid")
		}
		return keys.VerificationKey(kid)
	}
	t, err := newJWT(method, keys.SigningKey, verify, issuer, ttl, now, opts)
	if err != nil {
		return nil, err
	}
	t.keyUsable = func(kid string) bool { _, err := keys.VerificationKey(kid); return err == nil }
	return t, nil
}

func newJWT(method jwt.SigningMethod, sign func() (string, any, error), verify jwt.Keyfunc,
	issuer string, ttl time.Duration, now func() time.Time, opts []TokenOption,
) (*JWT, error) {
	if ttl <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}
	t := &JWT{method: method, sign: sign, verify: verify, issuer: issuer, audience: DefaultAudience,
		ttl: ttl, leeway: DefaultLeeway, now: now, verified: newVerifiedTokens(DefaultVerifiedTokens)}
	for _, o := range opts {
		o(t)
	}
	if t.leeway < 0 || t.leeway > MaxLeeway {
		return nil, fmt.Errorf("token leeway must be between 0 and %s, got %s", MaxLeeway, t.leeway)
	}
	if t.audience == "" {
		return nil, errors.New("token audience must not be empty")
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(t.leeway),
		jwt.WithStrictDecoding(), // one encoding per token: no variant with other padding bits verifies
		jwt.WithTimeFunc(now),
	)
	return t, nil
}

// Issue signs a token asserting c and says how long it stays valid.
func (t *JWT) Issue(c Claims) (string, time.Duration, error) {
	now := t.now()
	jc := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   c.UserID.String(),
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        rand.Text(),
		},
		Version:  c.Version,
		Role:     c.Role,
		AMR:      c.AMR,
		ACR:      c.ACR,
		ClientID: c.ClientID,
		Scope:    c.Scope,
	}
	if c.UserID == uuid.Nil && c.ClientID != "" {
		jc.Subject = c.ClientID // a service account's token
	}
	if c.SessionID != uuid.Nil {
		jc.SessionID = c.SessionID.String()
	}
	kid, key, err := t.sign()
	if err != nil {
		return "", 0, fmt.Errorf("signing key: %w", err)
	}
	tok := jwt.NewWithClaims(t.method, jc)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify checks the algorithm (only the configured one), the key, the
// signature, expiry, not-before, issue time, issuer and audience, and
// returns what the token asserts. A token already verified is found in
// memory (see verifiedTokens): then only its times and key are checked
// again, which give the same verdict as checking it all.
func (t *JWT) Verify(token string) (Claims, error) {
	if t.verified == nil {
		c, _, err := t.verifyFull(token)
		return c, err
	}
	key := tokenKey(token)
	if e, ok := t.verified.get(key); ok {
		now := t.now()
		if !now.Before(e.from) && now.Before(e.until) && (e.kid == "" || t.keyUsable == nil || t.keyUsable(e.kid)) {
			return e.claims, nil
		}
		t.verified.forget(key) // verify in full, for the exact error
	}
	c, e, err := t.verifyFull(token)
	if err != nil {
		return Claims{}, err
	}
	t.verified.put(key, e)
	return c, nil
}

// tokenKey is the SHA-256 of token, hashed from a stack buffer when the
// token fits (no allocation per request).
func tokenKey(token string) [sha256.Size]byte {
	var buf [1024]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

// verifyFull is Verify without the memory; it also returns the token's
// entry for it.
func (t *JWT) verifyFull(token string) (Claims, verifiedToken, error) {
	var c claims
	tok, err := t.parser.ParseWithClaims(token, &c, t.verify)
	if err != nil {
		return Claims{}, verifiedToken{}, fmt.Errorf("verify token: %w", err)
	}
	out := Claims{Version: c.Version, Role: c.Role, AMR: c.AMR, ACR: c.ACR, ClientID: c.ClientID, Scope: c.Scope}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.UTC()
	}
	if c.ClientID == "" || c.Subject != c.ClientID || c.SessionID != "" {
		// A user's token; a service account's has its client as subject.
		if out.UserID, err = uuid.Parse(c.Subject); err != nil {
			return Claims{}, verifiedToken{}, fmt.Errorf("token subject: %w", err)
		}
	}
	if c.SessionID != "" {
		if out.SessionID, err = uuid.Parse(c.SessionID); err != nil {
			return Claims{}, verifiedToken{}, fmt.Errorf("token session: %w", err)
		}
	}
	e := verifiedToken{claims: out, until: c.ExpiresAt.Add(t.leeway)} // exp is required
	// The parser's rules: valid from max(iat, nbf) - leeway, before exp + leeway.
	for _, d := range []*jwt.NumericDate{c.IssuedAt, c.NotBefore} {
		if d != nil && d.Add(-t.leeway).After(e.from) {
			e.from = d.Add(-t.leeway)
		}
	}
	e.kid, _ = tok.Header["kid"].(string)
	return out, e, nil
}
