package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks usersvc access tokens with the keys of its JWKS alone.
type Verifier struct {
	jwksURL, issuer, audience string
	client                    *http.Client
	now                       func() time.Time

	mu      sync.Mutex
	keys    map[string]jose.JSONWebKey // by kid
	fetched time.Time
}

// refetchEvery bounds JWKS fetches caused by unknown kids.
const refetchEvery = time.Second

// New returns a Verifier of tokens from issuer for audience, with the keys
// published at jwksURL.
func New(jwksURL, issuer, audience string) *Verifier {
	return newWithClock(jwksURL, issuer, audience, time.Now)
}

// newWithClock is New with the clock that decides both a token's validity
// and when the JWKS may be fetched again.
func newWithClock(jwksURL, issuer, audience string, now func() time.Time) *Verifier {
	return &Verifier{jwksURL: jwksURL, issuer: issuer, audience: audience,
		client: &http.Client{Timeout: 5 * time.Second}, now: now}
}

// Verify returns the token's registered claims if it is valid now.
func (v *Verifier) Verify(ctx context.Context, token string) (*jwt.RegisteredClaims, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := v.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if key.Algorithm != t.Method.Alg() { // the key decides the algorithm, never the token
			return nil, fmt.Errorf("token alg %s, key %s is %s", t.Method.Alg(), kid, key.Algorithm)
		}
		return key.Key, nil
	},
		jwt.WithValidMethods([]string{"EdDSA", "ES256"}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return nil, err
	}
	return &claims, nil
}

// key returns the public key kid names, fetching the JWKS when the kid is
// not cached (at most once per refetchEvery).
func (v *Verifier) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok && kid != "" {
		return k, nil
	}
	if v.now().Sub(v.fetched) < refetchEvery {
		return jose.JSONWebKey{}, fmt.Errorf("unknown kid %q", kid)
	}
	set, err := v.fetch(ctx)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	v.keys, v.fetched = map[string]jose.JSONWebKey{}, v.now()
	for _, k := range set.Keys {
		if k.Use == "sig" && k.IsPublic() && k.KeyID != "" {
			v.keys[k.KeyID] = k
		}
	}
	if k, ok := v.keys[kid]; ok && kid != "" {
		return k, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("unknown kid %q", kid)
}

func (v *Verifier) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return set, err
	}
	res, err := v.client.Do(req)
	if err != nil {
		return set, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return set, errors.New("fetch JWKS: " + res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return set, fmt.Errorf("decode JWKS: %w", err)
	}
	return set, nil
}
