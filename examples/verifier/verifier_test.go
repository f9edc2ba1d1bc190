package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/internal/httpapi"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
	"github.com/usersvc/usersvc/internal/user"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// usersvc is a real usersvc handler on a database, signing with alg.
type usersvc struct {
	url  string
	ring *signing.Ring
}

func startUsersvc(t *testing.T, repo user.Repository, alg string) usersvc {
	t.Helper()
	sealer, err := signing.NewSealer(bytes.Repeat([]byte{9}, signing.KeyEncryptionKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signing.Open(t.Context(), storetest.SigningKeys(t, repo), sealer, signing.Options{Alg: alg, Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := security.NewSigned(alg, ring, "usersvc", 30*time.Minute, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := security.NewBcrypt(4)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(user.NewService(repo, hasher, tokens), httpapi.Options{JWKS: ring.JWKS}))
	t.Cleanup(srv.Close)
	return usersvc{url: srv.URL, ring: ring}
}

func (u usersvc) login(t *testing.T, name string) string {
	t.Helper()
	body := `{"email":"` + name + `@example.com","username":"` + name + `","password":"correct horse"}`
	res, err := http.Post(u.url+"/api/v1/register", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %v, %v", res.Status, err)
	}
	res.Body.Close()
	res, err = http.PostForm(u.url+"/api/v1/token", url.Values{"username": {name}, "password": {"correct horse"}})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("token: %v, %v", res.Status, err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestVerifierFromJWKSAlone(t *testing.T) {
	for _, s := range storetest.All() {
		for _, alg := range []string{signing.EdDSA, signing.ES256} {
			t.Run(s.Name+"/"+alg, func(t *testing.T) {
				svc := startUsersvc(t, s.Open(t), alg)
				v := New(svc.url+"/.well-known/jwks.json", "usersvc", "usersvc")
				token := svc.login(t, "ada")
				claims, err := v.Verify(t.Context(), token)
				if err != nil {
					t.Fatalf("Verify(our token) = %v", err)
				}
				if claims.Subject == "" || claims.ID == "" {
					t.Errorf("claims = %+v, want sub and jti", claims)
				}
				if _, err := New(svc.url+"/.well-known/jwks.json", "usersvc", "billing").Verify(t.Context(), token); err == nil {
					t.Error("a verifier for audience billing accepted a token for usersvc")
				}
				if _, err := New(svc.url+"/.well-known/jwks.json", "someone-else", "usersvc").Verify(t.Context(), token); err == nil {
					t.Error("a verifier for another issuer accepted the token")
				}
				parts := strings.Split(token, ".")
				if _, err := v.Verify(t.Context(), parts[0]+"."+parts[1]+"x."+parts[2]); err == nil {
					t.Error("Verify(tampered payload) succeeded")
				}

				// After a rotation the verifier learns the new kid by refetching.
				if _, err := svc.ring.Rotate(t.Context()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(refetchEvery)
				if _, err := v.Verify(t.Context(), svc.login(t, "bob")); err != nil {
					t.Errorf("Verify(token of the new key) = %v", err)
				}
				if _, err := v.Verify(t.Context(), token); err != nil {
					t.Errorf("Verify(token of the retiring key) = %v", err)
				}
			})
		}
	}
}

// TestVerifierRefusesAlgConfusion: an HS256 token keyed with the published
// public key must not pass the example either.
func TestVerifierRefusesAlgConfusion(t *testing.T) {
	svc := startUsersvc(t, storetest.SQLite(t), signing.EdDSA)
	v := New(svc.url+"/.well-known/jwks.json", "usersvc", "usersvc")
	good := svc.login(t, "ada")
	key := svc.ring.JWKS().Keys[0]
	der, err := x509.MarshalPKIXPublicKey(key.Key)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(good, &claims); err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string][]byte{"DER": der, "raw": key.Key.(ed25519.PublicKey)} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = key.KeyID
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), s); err == nil {
			t.Errorf("Verify(HS256 keyed with the %s public key) succeeded", name)
		}
	}
	if _, err := v.Verify(t.Context(), "not.a.token"); err == nil {
		t.Error("Verify(garbage) succeeded")
	}
	if _, err := New(svc.url+"/nowhere", "usersvc", "usersvc").Verify(t.Context(), good); err == nil {
		t.Error("Verify with a JWKS URL that answers 404 succeeded")
	}
}
