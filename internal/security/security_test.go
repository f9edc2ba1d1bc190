package security_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/usersvc/usersvc/internal/security"
	"golang.org/x/crypto/bcrypt"
)

func TestBcrypt(t *testing.T) {
	h, err := security.NewBcrypt(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash("correct horse")
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != bcrypt.MinCost {
		t.Errorf("hash cost = %d, want %d", cost, bcrypt.MinCost)
	}
	if !h.Verify(hash, "correct horse") {
		t.Error("Verify(right password) = false")
	}
	if h.Verify(hash, "wrong horse") {
		t.Error("Verify(wrong password) = true")
	}
	if h.Verify("not a hash", "correct horse") {
		t.Error("Verify(malformed hash) = true")
	}
	if _, err := h.Hash(strings.Repeat("p", 73)); err == nil {
		t.Error("Hash(73 bytes) succeeded, want an error rather than silent truncation")
	}
	for _, cost := range []int{3, 32} {
		if _, err := security.NewBcrypt(cost); err == nil {
			t.Errorf("NewBcrypt(%d) succeeded, want an error", cost)
		}
	}
}

var secret = []byte(strings.Repeat("k", 32))

func newTokens(t *testing.T, now func() time.Time) *security.JWT {
	t.Helper()
	tok, err := security.NewHS256(secret, "usersvc", 30*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenRoundTrip(t *testing.T) {
	tokens := newTokens(t, time.Now)
	id := uuid.Must(uuid.NewV7())
	s, ttl, err := tokens.Issue(security.Claims{UserID: id, Version: 7})
	if err != nil {
		t.Fatalf("Issue() error = %v", err)
	}
	if ttl != 30*time.Minute {
		t.Errorf("ttl = %v, want 30m", ttl)
	}
	claims, err := tokens.Verify(s)
	gotID, gotVersion := claims.UserID, claims.Version
	if err != nil || gotID != id || gotVersion != 7 {
		t.Errorf("Verify() = %v, %d, %v; want %v, 7, nil", gotID, gotVersion, err, id)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(s, &c); err != nil {
		t.Fatal(err)
	}
	for _, claim := range []string{"sub", "iat", "nbf", "exp", "iss", "aud", "jti", "ver"} {
		if _, ok := c[claim]; !ok {
			t.Errorf("token lacks the %q claim: %v", claim, c)
		}
	}
}

// sign makes a token with arbitrary claims and method, as an attacker or a
// misconfigured peer would.
func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	tokens := newTokens(t, func() time.Time { return now })
	id := uuid.Must(uuid.NewV7()).String()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": id, "iss": "usersvc", "aud": "usersvc", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "ver": 0}
	}
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, secret, valid())
	parts := strings.Split(good, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))

	for _, tt := range []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "a.b.c"},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Hour).Unix()))},
		{"no expiry", sign(t, jwt.SigningMethodHS256, secret, without("exp"))},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, secret, with("iat", now.Add(time.Hour).Unix()))},
		{"other issuer", sign(t, jwt.SigningMethodHS256, secret, with("iss", "evil"))},
		{"no issuer", sign(t, jwt.SigningMethodHS256, secret, without("iss"))},
		{"other audience", sign(t, jwt.SigningMethodHS256, secret, with("aud", "billing"))},
		{"no audience", sign(t, jwt.SigningMethodHS256, secret, without("aud"))},
		{"not yet valid", sign(t, jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix()))},
		{"subject not a uuid", sign(t, jwt.SigningMethodHS256, secret, with("sub", "admin"))},
		{"other secret", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), valid())},
		{"HS512 with our secret", sign(t, jwt.SigningMethodHS512, secret, valid())},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, edKey, valid())},
		{"alg none", noneHeader + "." + parts[1] + "."},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+id+`","iss":"usersvc","exp":9999999999,"iat":1,"ver":0}`)) + "." + parts[2]},
		{"stripped signature", parts[0] + "." + parts[1] + "."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tokens.Verify(tt.token); err == nil {
				t.Error("Verify() accepted the token, want an error")
			}
		})
	}
	if _, err := tokens.Verify(good); err != nil {
		t.Errorf("Verify(valid control token) error = %v", err)
	}
}

func TestTokenExpiresAfterTTLPlusLeeway(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	tokens := newTokens(t, clock)
	s, _, err := tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7())})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(30*time.Minute + 10*time.Second) // within the 30 s leeway
	if _, err := tokens.Verify(s); err != nil {
		t.Errorf("Verify() within leeway error = %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := tokens.Verify(s); err == nil {
		t.Error("Verify() after expiry succeeded, want an error")
	}
}

func TestNewHS256RejectsWeakSettings(t *testing.T) {
	if _, err := security.NewHS256([]byte("short"), "i", time.Minute, time.Now); err == nil {
		t.Error("NewHS256(short secret) succeeded")
	}
	if _, err := security.NewHS256(secret, "i", 0, time.Now); err == nil {
		t.Error("NewHS256(zero ttl) succeeded")
	}
	for _, d := range []time.Duration{-time.Second, security.MaxLeeway + time.Second} {
		if _, err := security.NewHS256(secret, "i", time.Minute, time.Now, security.WithLeeway(d)); err == nil {
			t.Errorf("NewHS256(leeway %s) succeeded", d)
		}
	}
	if _, err := security.NewHS256(secret, "i", time.Minute, time.Now, security.WithAudience("")); err == nil {
		t.Error("NewHS256(empty audience) succeeded")
	}
}

func TestTokenAudienceAndLeewayAreConfigurable(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	billing, err := security.NewHS256(secret, "usersvc", time.Minute, clock, security.WithAudience("billing"), security.WithLeeway(0))
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := billing.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTokens(t, clock).Verify(s); err == nil {
		t.Error("a token for audience billing was accepted for audience usersvc")
	}
	again, _, err := billing.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7())})
	if err != nil {
		t.Fatal(err)
	}
	var c1, c2 jwt.RegisteredClaims
	_, _, _ = jwt.NewParser().ParseUnverified(s, &c1)
	_, _, _ = jwt.NewParser().ParseUnverified(again, &c2)
	if c1.ID == "" || c1.ID == c2.ID {
		t.Errorf("jti = %q and %q, want two different random ids", c1.ID, c2.ID)
	}
	now = now.Add(time.Minute + time.Second) // no leeway: expired
	if _, err := billing.Verify(s); err == nil {
		t.Error("Verify() one second after expiry with zero leeway succeeded")
	}
}

// TestTokenCarriesSession: the session, role and assurance (amr, acr) round-trip.
func TestTokenCarriesSession(t *testing.T) {
	tokens := newTokens(t, time.Now)
	want := security.Claims{UserID: uuid.Must(uuid.NewV7()), Version: 2, SessionID: uuid.Must(uuid.NewV7()), Role: "admin",
		AMR: []string{"pwd", "otp", "mfa"}, ACR: "urn:usersvc:acr:2fa"}
	issued := time.Now().UTC().Truncate(time.Second)
	s, _, err := tokens.Issue(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Verify(s)
	if late := got.IssuedAt.Sub(issued); late < 0 || late > time.Second {
		t.Errorf("IssuedAt = %s, want the second it was issued, %s", got.IssuedAt, issued)
	}
	want.IssuedAt = got.IssuedAt
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Verify() = %+v, %v; want %+v", got, err, want)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(s, &c); err != nil || c["sid"] != want.SessionID.String() {
		t.Errorf("sid claim = %v, want %s", c["sid"], want.SessionID)
	}
	now := time.Now()
	bad := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{
		"sub": want.UserID.String(), "iss": "usersvc", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "sid": "not-a-uuid",
	})
	if _, err := tokens.Verify(bad); err == nil {
		t.Error("Verify() accepted a malformed sid")
	}
}
