package signing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const ttl = 30 * time.Minute

// clock is a settable time, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSealer(t testing.TB, fill byte) *signing.Sealer {
	t.Helper()
	s, err := signing.NewSealer(bytes.Repeat([]byte{fill}, signing.KeyEncryptionKeyBytes), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a ring on one database with its token issuer, as one replica
// of the service has them.
type fixture struct {
	ring   *signing.Ring
	tokens *security.JWT
}

func open(t *testing.T, repo signing.Repository, alg string, c *clock) fixture {
	t.Helper()
	ring, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{
		Alg: alg, Overlap: ttl + time.Minute, Now: c.Now,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tokens, err := security.NewSigned(alg, ring, "usersvc", ttl, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ring: ring, tokens: tokens}
}

func (f fixture) issue(t *testing.T) string {
	t.Helper()
	s, _, err := f.tokens.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7())})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return s
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func jwksKids(r *signing.Ring) []string {
	var kids []string
	for _, k := range r.JWKS().Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func forEachStore(t *testing.T, test func(t *testing.T, repo signing.Repository)) {
	for _, s := range storetest.All() {
		t.Run(s.Name, func(t *testing.T) { test(t, storetest.SigningKeys(t, s.Open(t))) })
	}
}

func TestFirstKeyIsGeneratedOnFirstStart(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		f := open(t, repo, security.EdDSA, c)
		list := f.ring.List()
		if len(list) != 1 || list[0].State != signing.Active || list[0].Alg != security.EdDSA {
			t.Fatalf("List() after first start = %+v, want one active security.EdDSA key", list)
		}
		token := f.issue(t)
		if kid := kidOf(t, token); kid != list[0].ID {
			t.Errorf("token kid = %q, want %q", kid, list[0].ID)
		}
		// A restart (or a second replica) uses the stored key, makes none.
		again := open(t, repo, security.EdDSA, c)
		if got := again.ring.List(); len(got) != 1 || got[0].ID != list[0].ID {
			t.Errorf("List() after restart = %+v, want the same single key", got)
		}
		if _, err := again.tokens.Verify(token); err != nil {
			t.Errorf("Verify after restart: %v", err)
		}
		set := again.ring.JWKS()
		if len(set.Keys) != 1 || set.Keys[0].Algorithm != "EdDSA" || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
			t.Errorf("JWKS = %+v, want one public security.EdDSA signing key", set.Keys)
		}
	})
}

func TestRotation(t *testing.T) {
	for _, alg := range []string{security.EdDSA, security.ES256} {
		t.Run(alg, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, repo signing.Repository) { testRotation(t, repo, alg) })
		})
	}
}

func testRotation(t *testing.T, repo signing.Repository, alg string) {
	c := &clock{now: time.Now()}
	a := open(t, repo, alg, c)
	b := open(t, repo, alg, c) // a second replica on the same database
	oldToken := a.issue(t)
	oldKid := kidOf(t, oldToken)

	c.Add(time.Minute)
	info, err := a.ring.Rotate(t.Context())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newToken := a.issue(t)
	if kid := kidOf(t, newToken); kid != info.ID || kid == oldKid {
		t.Errorf("after rotation token kid = %q, want the new key %q (old %q)", kid, info.ID, oldKid)
	}
	if got := jwksKids(a.ring); len(got) != 2 || got[0] != oldKid || got[1] != info.ID {
		t.Errorf("JWKS kids during the overlap = %v, want [%s %s]", got, oldKid, info.ID)
	}
	states := a.ring.List()
	if len(states) != 2 || states[0].State != signing.Retiring || states[1].State != signing.Active {
		t.Errorf("List() during the overlap = %+v, want retiring then active", states)
	}

	// The other replica, not restarted, verifies the new key's tokens: the
	// unknown kid makes it reload (once MinReload has passed).
	c.Add(10 * time.Second)
	if _, err := b.tokens.Verify(newToken); err != nil {
		t.Errorf("second replica Verify(new token): %v", err)
	}
	if kid := kidOf(t, b.issue(t)); kid != info.ID {
		t.Errorf("second replica signs with %q after reloading, want %q", kid, info.ID)
	}
	for name, f := range map[string]fixture{"first": a, "second": b} {
		if _, err := f.tokens.Verify(oldToken); err != nil {
			t.Errorf("%s replica Verify(old token) during the overlap: %v", name, err)
		}
	}

	// Once every token of the old key has expired, it neither verifies nor
	// is published, even before the next reload.
	c.Add(ttl + time.Minute)
	if got := jwksKids(a.ring); len(got) != 1 || got[0] != info.ID {
		t.Errorf("JWKS kids after the overlap = %v, want [%s]", got, info.ID)
	}
	if err := a.ring.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if states := a.ring.List(); states[0].State != signing.Retired {
		t.Errorf("old key state after the overlap = %s, want retired", states[0].State)
	}
	if _, err := a.ring.VerificationKey(oldKid); !errors.Is(err, signing.ErrUnknownKey) {
		t.Errorf("VerificationKey(retired) error = %v, want ErrUnknownKey", err)
	}
}

func TestPrivateKeysAreSealedAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		f := open(t, repo, security.EdDSA, c)
		stored, err := repo.Keys(t.Context())
		if err != nil || len(stored) != 1 {
			t.Fatalf("Keys() = %d keys, %v; want 1, nil", len(stored), err)
		}
		raw := stored[0].Private
		if _, err := x509.ParsePKCS8PrivateKey(raw); err == nil {
			t.Fatal("private_key column parses as a plaintext PKCS #8 key")
		}
		pub, err := x509.ParsePKIXPublicKey(stored[0].Public)
		if err != nil {
			t.Fatal(err)
		}
		kid, key, err := f.ring.SigningKey()
		if err != nil {
			t.Fatal(err)
		}
		seed := key.(ed25519.PrivateKey).Seed()
		if bytes.Contains(raw, seed) || kid != stored[0].ID {
			t.Error("private_key column contains the private key's seed in the clear")
		}
		if !pub.(ed25519.PublicKey).Equal(key.(ed25519.PrivateKey).Public()) {
			t.Error("stored public key does not match the signing key")
		}
	})
}

func TestWrongEncryptionKeyFailsAtStart(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		open(t, repo, security.EdDSA, c)
		_, err := signing.Open(t.Context(), repo, newSealer(t, 8), signing.Options{Overlap: ttl, Now: c.Now})
		if !errors.Is(err, signing.ErrWrongEncryptionKey) || !strings.Contains(err.Error(), "USERSVC_KEY_ENCRYPTION_KEY") {
			t.Errorf("Open with another encryption key: error = %v, want ErrWrongEncryptionKey naming the variable", err)
		}
	})
}

func TestOptionsAreChecked(t *testing.T) {
	repo := storetest.SigningKeys(t, storetest.SQLite(t))
	for name, o := range map[string]signing.Options{
		"unknown alg": {Alg: "HS256", Overlap: ttl},
		"no overlap":  {},
	} {
		if _, err := signing.Open(t.Context(), repo, newSealer(t, 7), o); err == nil {
			t.Errorf("Open(%s) succeeded, want an error", name)
		}
	}
	if _, err := signing.NewSealer(make([]byte, 16), nil); err == nil {
		t.Error("NewSealer(16 bytes) succeeded, want an error")
	}
}

// TestVerifyRejects covers alg confusion and tampering against a ring of
// security.EdDSA keys: only security.EdDSA tokens by a key of the ring verify.
func TestVerifyRejects(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		c := &clock{now: time.Now()}
		f := open(t, repo, security.EdDSA, c)
		// A day-long token of the first key outlives that key's overlap.
		long, err := security.NewSigned(security.EdDSA, f.ring, "usersvc", 24*time.Hour, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		oldToken, _, err := long.Issue(security.Claims{UserID: uuid.Must(uuid.NewV7())})
		if err != nil {
			t.Fatal(err)
		}
		retiredKid := kidOf(t, oldToken)
		c.Add(time.Second)
		if _, err := f.ring.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		good := f.issue(t)
		kid := kidOf(t, good)
		parts := strings.Split(good, ".")
		set := f.ring.JWKS()
		var pubRaw ed25519.PublicKey
		for _, k := range set.Keys {
			if k.KeyID == kid {
				pubRaw = k.Key.(ed25519.PublicKey)
			}
		}
		pubDER, err := x509.MarshalPKIXPublicKey(pubRaw)
		if err != nil {
			t.Fatal(err)
		}
		_, foreign, _ := ed25519.GenerateKey(rand.Reader)
		claims := func() jwt.MapClaims {
			var m jwt.MapClaims
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if err := json.Unmarshal(payload, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		signed := func(m jwt.SigningMethod, key any, kid string, edit func(jwt.MapClaims)) string {
			cl := claims()
			if edit != nil {
				edit(cl)
			}
			tok := jwt.NewWithClaims(m, cl)
			if kid != "" {
				tok.Header["kid"] = kid
			}
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		header := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) }
		payload := claims()
		payload["sub"] = uuid.Must(uuid.NewV7()).String()
		tampered, _ := json.Marshal(payload)

		for _, tt := range []struct{ name, token string }{
			{"HS256 signed with the public key (PKIX DER)", signed(jwt.SigningMethodHS256, pubDER, kid, nil)},
			{"HS256 signed with the raw public key", signed(jwt.SigningMethodHS256, []byte(pubRaw), kid, nil)},
			{"alg none", header(`{"alg":"none","typ":"JWT","kid":"`+kid+`"}`) + "." + parts[1] + "."},
			{"unknown kid", signed(jwt.SigningMethodEdDSA, foreign, "nosuchkey", nil)},
			{"no kid", signed(jwt.SigningMethodEdDSA, foreign, "", nil)},
			{"foreign key claiming our kid", signed(jwt.SigningMethodEdDSA, foreign, kid, nil)},
			{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2]},
			{"tampered header (kid)", header(`{"alg":"EdDSA","typ":"JWT","kid":"`+retiredKid+`"}`) + "." + parts[1] + "." + parts[2]},
			{"tampered header (alg)", header(`{"alg":"ES256","typ":"JWT","kid":"`+kid+`"}`) + "." + parts[1] + "." + parts[2]},
			{"stripped signature", parts[0] + "." + parts[1] + "."},
			{"other audience", signed(jwt.SigningMethodEdDSA, foreign, kid, func(m jwt.MapClaims) { m["aud"] = "billing" })},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.tokens.Verify(tt.token); err == nil {
					t.Error("Verify() accepted the token, want an error")
				}
			})
		}
		if _, err := f.tokens.Verify(good); err != nil {
			t.Errorf("Verify(valid control token) = %v", err)
		}
		if _, err := long.Verify(oldToken); err != nil {
			t.Errorf("Verify(token of the retiring key) during the overlap = %v", err)
		}
		// Once its key is retired (removed from the ring) the token fails,
		// though its own exp is hours away.
		c.Add(ttl + 2*time.Minute)
		if _, err := long.Verify(oldToken); !errors.Is(err, signing.ErrUnknownKey) {
			t.Errorf("Verify(token by a retired key) = %v, want ErrUnknownKey", err)
		}
	})
}

// TestRunReloadsPeriodically: a replica that sees no unknown kid still
// starts signing with a key rotated elsewhere, at its next periodic reload.
func TestRunReloadsPeriodically(t *testing.T) {
	forEachStore(t, func(t *testing.T, repo signing.Repository) {
		ticks := make(chan time.Time) // unbuffered: a send returns once Run has taken it
		a, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{Overlap: ttl, Ticks: ticks})
		if err != nil {
			t.Fatal(err)
		}
		b, err := signing.Open(t.Context(), repo, newSealer(t, 7), signing.Options{Overlap: ttl})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx, func(err error) { t.Errorf("reload: %v", err) }) }()
		info, err := b.Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if kid, _, _ := a.SigningKey(); kid == info.ID {
			t.Fatal("the first ring signs with the second's new key before any reload")
		}
		ticks <- time.Now() // Run reloads
		ticks <- time.Now() // Run has finished that reload and waits for the next tick
		if kid, _, _ := a.SigningKey(); kid != info.ID {
			t.Errorf("after a periodic reload the first ring signs with %s, want %s, the key the second rotated to", kid, info.ID)
		}
		cancel()
		<-done // Run stops with its context
	})
}
