package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/security"
)

// jwk is the wire shape of one public key (RFC 7517, RFC 8037 for OKP).
type jwk struct {
	Kty string `json:"kty" enum:"OKP,EC" doc:"key type: OKP for Ed25519, EC for P-256"`
	Kid string `json:"kid" doc:"the key id that tokens name in their kid header"`
	Alg string `json:"alg" enum:"EdDSA,ES256"`
	Use string `json:"use" enum:"sig"`
	Crv string `json:"crv" enum:"Ed25519,P-256"`
	X   string `json:"x" doc:"public key (base64url)"`
	Y   string `json:"y,omitempty" doc:"second coordinate, EC keys only (base64url)"`
}

type jwksOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Keys []jwk `json:"keys" nullable:"false" doc:"the public keys that verify access tokens now; empty with HS256 signing"`
	}
}

// jwksRoute registers GET /.well-known/jwks.json: the public keys that
// verify access tokens now, each with kid, alg and use "sig". keys nil (as
// with HS256 signing, which nobody else can verify) publishes an empty set.
func (a *api) jwksRoute(keys func() jose.JSONWebKeySet) {
	op := a.op("GET /.well-known/jwks.json", "jwks", http.StatusOK,
		"Public keys that verify access tokens (JWKS)", http.StatusInternalServerError)
	// Verifiers and caches keep the key set briefly (security.JWKSMaxAge,
	// which the key publish delay is held to), so that a rotation reaches
	// them quickly; they should also refetch when a token names a kid they
	// do not know.
	cacheControl := "public, max-age=" + strconv.Itoa(int(security.JWKSMaxAge/time.Second))
	huma.Register(a.huma, op, func(ctx context.Context, _ *struct{}) (*jwksOutput, error) {
		out := &jwksOutput{CacheControl: cacheControl}
		out.Body.Keys = []jwk{}
		if keys == nil {
			return out, nil
		}
		// go-jose writes the JWK members; read them back into the
		// documented shape.
		b, err := json.Marshal(keys())
		if err == nil {
			err = json.Unmarshal(b, &out.Body)
		}
		if err != nil {
			return nil, a.problem(ctx, fmt.Errorf("encode JWKS: %w", err))
		}
		return out, nil
	})
}
