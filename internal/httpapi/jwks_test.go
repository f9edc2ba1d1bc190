package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/httpapi"
)

func TestJWKS(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := jose.JSONWebKey{Key: pub, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}
	for _, tt := range []struct {
		name string
		keys func() jose.JSONWebKeySet // nil: the App's own (HS256: none)
		want int
	}{
		{"HS256 publishes nothing", nil, 0},
		{"one key", func() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}} }, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, apptest.Memory)
			if tt.keys != nil { // an httpapi option config does not set
				s.h = httpapi.New(s.App.Service(), httpapi.Options{Logger: slog.New(slog.NewJSONHandler(s.Logs, nil)), JWKS: tt.keys})
			}
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

// TestJWKSPublishesTheSigningKey: with an asymmetric algorithm the App
// publishes the public key its tokens name, and nothing private.
func TestJWKSPublishesTheSigningKey(t *testing.T) {
	t.Parallel()
	s := newServer(t, apptest.SQLite, apptest.Env("USERSVC_JWT_ALG", "EdDSA"))
	_, tok := s.signedUp()
	header, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(b, &h); err != nil || h.Alg != "EdDSA" || h.Kid == "" {
		t.Fatalf("token header %s: want EdDSA and a kid", b)
	}
	res := s.do(req{method: "GET", path: "/.well-known/jwks.json"})
	var raw map[string][]map[string]any
	if err := json.Unmarshal(res.Body, &raw); err != nil || res.Status != http.StatusOK {
		t.Fatalf("GET /.well-known/jwks.json: %v", res)
	}
	var found bool
	for _, k := range raw["keys"] {
		if k["d"] != nil || k["use"] != "sig" || k["alg"] != "EdDSA" {
			t.Errorf("key %v: want alg EdDSA, use sig and no private part", k)
		}
		found = found || k["kid"] == h.Kid
	}
	if !found {
		t.Errorf("keys %v: none has the token's kid %s", raw["keys"], h.Kid)
	}
}
