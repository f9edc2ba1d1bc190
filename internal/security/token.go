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

// claims are the access token's claims: the registered ones plus the
// user's token version, which a password change increments.
type claims struct {
	jwt.RegisteredClaims
	Version int64 `json:"ver"`
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

// Issue signs a token for userID at the given token version and says how
// long it stays valid.
func (t *HS256) Issue(userID uuid.UUID, version int64) (string, time.Duration, error) {
	now := t.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID.String(),
			Issuer:    t.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		Version: version,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify checks the signature (HS256 only), expiry, issue time and issuer,
// and returns the subject and token version.
func (t *HS256) Verify(token string) (uuid.UUID, int64, error) {
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return uuid.Nil, 0, fmt.Errorf("verify token: %w", err)
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return uuid.Nil, 0, fmt.Errorf("token subject: %w", err)
	}
	return id, c.Version, nil
}
