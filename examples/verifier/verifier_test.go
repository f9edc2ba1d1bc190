package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a settable time, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// usersvc is a real usersvc handler on a database, signing with alg.
type usersvc struct {
	url  string
	ring *signing.Ring
	// clock is the service's: a rotation's new key must be younger than
	// the key it succeeds.
	clock *apptest.Clock
}

func startUsersvc(t *testing.T, kind, alg string) usersvc {
	t.Helper()
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, signing.KeyEncryptionKeyBytes))
	a := apptest.New(t, kind, apptest.Env("USERSVC_JWT_ALG", alg, "USERSVC_KEY_ENCRYPTION_KEY", kek,
		"USERSVC_JWT_ISSUER", "usersvc", "USERSVC_JWT_AUDIENCE", "usersvc"))
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return usersvc{url: srv.URL, ring: a.App.Ring(), clock: a.Clock}
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
	for _, kind := range apptest.Stores() {
		for _, alg := range []string{security.EdDSA, security.ES256} {
			t.Run(kind+"/"+alg, func(t *testing.T) {
				svc := startUsersvc(t, kind, alg)
				clock := &clock{now: time.Now()}
				v := newWithClock(svc.url+"/.well-known/jwks.json", "usersvc", "usersvc", clock.Now)
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

				// After a rotation that signs at once (rotate --now) the
				// verifier learns the new kid by refetching, but no sooner
				// than refetchEvery after its last fetch, so that made-up
				// kids cannot make it flood the JWKS.
				svc.clock.Advance(time.Second)
				if _, err := svc.ring.RotateNow(t.Context()); err != nil {
					t.Fatal(err)
				}
				newToken := svc.login(t, "bob")
				clock.Add(refetchEvery - time.Millisecond)
				if _, err := v.Verify(t.Context(), newToken); err == nil || !strings.Contains(err.Error(), "unknown kid") {
					t.Errorf("Verify(token of the new key) within refetchEvery of the last fetch = %v, want unknown kid", err)
				}
				clock.Add(time.Millisecond)
				if _, err := v.Verify(t.Context(), newToken); err != nil {
					t.Errorf("Verify(token of the new key) refetchEvery after the last fetch = %v", err)
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
	svc := startUsersvc(t, apptest.SQLite, security.EdDSA)
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
