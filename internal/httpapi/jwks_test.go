package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestJWKS(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := jose.JSONWebKey{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}
	for _, tt := range []struct {
		name string
		keys func() jose.JSONWebKeySet
		want int
	}{
		{"HS256 publishes nothing", nil, 0},
		{"one key", func() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}} }, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, storetest.SQLite(t), func(o *httpapi.Options) { o.JWKS = tt.keys })
			res := s.do(req{method: "GET", path: "/.well-known/jwks.json"})
			if res.Status != http.StatusOK {
				t.Fatalf("status %d, want 200", res.Status)
			}
			if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); !strings.Contains(ct, "json") || cc != "public, max-age=300" {
				t.Errorf("Content-Type %q, Cache-Control %q; want JSON, public, max-age=300", ct, cc)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(res.Body, &set); err != nil || len(set.Keys) != tt.want {
				t.Fatalf("body %s: %d keys, %v; want %d", res.Body, len(set.Keys), err, tt.want)
			}
			var raw map[string][]map[string]any
			_ = json.Unmarshal(res.Body, &raw)
			if raw["keys"] == nil {
				t.Errorf("body %s: want a keys array, even when empty", res.Body)
			}
			for _, k := range raw["keys"] {
				if k["kid"] != "k1" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["d"] != nil {
					t.Errorf("key %v: want kid, alg, use sig and no private part", k)
				}
			}
		})
	}
}
