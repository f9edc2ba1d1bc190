package security

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// MinSecretBytes is the shortest HS256 secret accepted: the hash size.
const MinSecretBytes = 32

// leeway is the clock skew tolerated on exp, iat and nbf.
const leeway = 30 * time.Second

// HS256 issues and verifies access tokens signed with HMAC-SHA256.
type HS256 struct {
	secret []byte
	issuer string
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// Claims are what an access token asserts about its bearer.
type Claims struct {
	UserID uuid.UUID
	// Version is the user's token version when the token was issued; a
	// password change increments it, so older tokens stop being accepted.
	Version int64
	// SessionID names the login session the token belongs to, uuid.Nil for
	// none. Revoking the session revokes its tokens.
	SessionID uuid.UUID
}

// claims are the JWT form of Claims: the registered claims plus the token
// version ("ver") and the session id ("sid", absent for none).
type claims struct {
	jwt.RegisteredClaims
	Version   int64  `json:"ver"`
	SessionID string `json:"sid,omitempty"`
}

// NewHS256 returns a token issuer and verifier. now is the clock (time.Now
// in production).
func NewHS256(secret []byte, issuer string, ttl time.Duration, now func() time.Time) (*HS256, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("JWT secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	if ttl <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}
	return &HS256{
		secret: secret,
		issuer: issuer,
		ttl:    ttl,
		now:    now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// Issue signs a token asserting c and says how long it stays valid.
func (t *HS256) Issue(c Claims) (string, time.Duration, error) {
	now := t.now()
	jc := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.UserID.String(),
			Issuer:    t.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		Version: c.Version,
	}
	if c.SessionID != uuid.Nil {
		jc.SessionID = c.SessionID.String()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jc).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify checks the signature (HS256 only), expiry, issue time and issuer,
// and returns what the token asserts.
func (t *HS256) Verify(token string) (Claims, error) {
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("verify token: %w", err)
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return Claims{}, fmt.Errorf("token subject: %w", err)
	}
	out := Claims{UserID: id, Version: c.Version}
	if c.SessionID != "" {
		if out.SessionID, err = uuid.Parse(c.SessionID); err != nil {
			return Claims{}, fmt.Errorf("token session: %w", err)
		}
	}
	return out, nil
}
