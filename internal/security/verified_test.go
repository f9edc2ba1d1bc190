package security

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// clock is a settable time for the tests, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock           { c := &clock{}; c.set(time.Now()); return c }
func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

func testTokens(t *testing.T, c *clock, opts ...TokenOption) *JWT {
	t.Helper()
	tok, err := NewHS256([]byte(strings.Repeat("s", 64)), "usersvc", 10*time.Minute, c.now, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func issue(t *testing.T, tok *JWT) (string, Claims) {
	t.Helper()
	c := Claims{UserID: uuid.Must(uuid.NewV7()), Version: 2, SessionID: uuid.Must(uuid.NewV7()), Role: "user"}
	s, _, err := tok.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	c.IssuedAt = tok.now().UTC().Truncate(time.Second) // iat, to the second
	return s, c
}

// TestVerifiedTokenIsRemembered: a token verified once is found in memory
// and gives the same claims.
func TestVerifiedTokenIsRemembered(t *testing.T) {
	tok := testTokens(t, newClock())
	s, want := issue(t, tok)
	for i := range 3 {
		got, err := tok.Verify(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Verify #%d: got %+v, %v; want %+v, nil", i+1, got, err, want)
		}
	}
	if n := tok.verified.len(); n != 1 {
		t.Errorf("remembered tokens: got %d, want 1", n)
	}
}

// TestTamperedTokenIsNeverAcceptedFromMemory: with a token remembered, every
// token that differs from it in one character, or carries its claims under
// another key's signature, is refused.
func TestTamperedTokenIsNeverAcceptedFromMemory(t *testing.T) {
	c := newClock()
	tok := testTokens(t, c)
	s, _ := issue(t, tok)
	if _, err := tok.Verify(s); err != nil {
		t.Fatal(err)
	}
	for i := range len(s) {
		if s[i] == '.' {
			continue
		}
		b := []byte(s)
		b[i] ^= 1
		if _, err := tok.Verify(string(b)); err == nil {
			t.Errorf("Verify(token with byte %d changed) = nil error, want a refusal", i)
		}
	}
	other, err := NewHS256([]byte(strings.Repeat("o", 64)), "usersvc", 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s, ".")
	forged, _ := issue(t, other)
	fp := strings.Split(forged, ".")
	if _, err := tok.Verify(parts[0] + "." + parts[1] + "." + fp[2]); err == nil {
		t.Error("Verify(remembered claims, another key's signature) = nil error, want a refusal")
	}
	if _, err := tok.Verify(parts[0] + "." + parts[1] + "."); err == nil {
		t.Error("Verify(remembered claims, no signature) = nil error, want a refusal")
	}
}

// TestRememberedTokenExpires: a remembered token is refused, with the
// parser's error, once past its expiry plus the leeway, and before its
// issue time minus the leeway (a clock set back); it is valid up to the
// last moment before expiry + leeway.
func TestRememberedTokenExpires(t *testing.T) {
	c := newClock()
	start := c.now()
	tok := testTokens(t, c, WithLeeway(30*time.Second))
	s, _ := issue(t, tok)
	if _, err := tok.Verify(s); err != nil {
		t.Fatal(err)
	}
	c.set(start.Add(10*time.Minute + 29*time.Second))
	if _, err := tok.Verify(s); err != nil {
		t.Errorf("Verify 1 s before expiry + leeway: got %v, want nil", err)
	}
	c.set(start.Add(10*time.Minute + 31*time.Second))
	if _, err := tok.Verify(s); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Verify after expiry + leeway: got %v, want %v", err, jwt.ErrTokenExpired)
	}
	if _, err := tok.Verify(s); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Verify after expiry + leeway, again: got %v, want %v", err, jwt.ErrTokenExpired)
	}

	c.set(start)
	s2, _ := issue(t, tok)
	if _, err := tok.Verify(s2); err != nil {
		t.Fatal(err)
	}
	c.set(start.Add(-time.Minute))
	if _, err := tok.Verify(s2); err == nil {
		t.Error("Verify with the clock set back before issue - leeway: got nil, want a refusal")
	}
}

// TestMemoryIsBounded: however many tokens are verified, at most the
// configured number are remembered, and each still verifies.
func TestMemoryIsBounded(t *testing.T) {
	tok := testTokens(t, newClock(), WithVerifiedTokens(3))
	var all []string
	for range 10 {
		s, _ := issue(t, tok)
		all = append(all, s)
		if _, err := tok.Verify(s); err != nil {
			t.Fatal(err)
		}
		if n := tok.verified.len(); n > 3 {
			t.Fatalf("remembered tokens: got %d, want at most 3", n)
		}
	}
	for i, s := range all {
		if _, err := tok.Verify(s); err != nil {
			t.Errorf("Verify(token %d) after evictions: got %v, want nil", i, err)
		}
	}
	off := testTokens(t, newClock(), WithVerifiedTokens(0))
	s, _ := issue(t, off)
	if _, err := off.Verify(s); err != nil || off.verified != nil {
		t.Errorf("WithVerifiedTokens(0): Verify = %v, memory %v; want nil, none", err, off.verified)
	}
}

// keys is a KeySource of one Ed25519 key that can be withdrawn.
type keys struct {
	priv      ed25519.PrivateKey
	withdrawn atomic.Bool
}

func (k *keys) SigningKey() (string, any, error) { return "k1", k.priv, nil }
func (k *keys) VerificationKey(kid string) (any, error) {
	if kid != "k1" || k.withdrawn.Load() {
		return nil, errors.New("unknown key")
	}
	return k.priv.Public(), nil
}

// TestRememberedTokenOfAWithdrawnKey: once its key no longer verifies, a
// remembered token is refused.
func TestRememberedTokenOfAWithdrawnKey(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks := &keys{priv: priv}
	c := newClock()
	tok, err := NewSigned(EdDSA, ks, "usersvc", 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := issue(t, tok)
	if _, err := tok.Verify(s); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(s); err != nil {
		t.Fatalf("Verify, remembered: got %v, want nil", err)
	}
	ks.withdrawn.Store(true)
	if _, err := tok.Verify(s); err == nil {
		t.Error("Verify after the key was withdrawn: got nil, want a refusal")
	}
}

// TestVerifyConcurrently: many goroutines verifying, remembering and
// evicting at once (run with -race) all get the right answer.
func TestVerifyConcurrently(t *testing.T) {
	tok := testTokens(t, newClock(), WithVerifiedTokens(4))
	var (
		tokens []string
		claims []Claims
	)
	for range 8 {
		s, c := issue(t, tok)
		tokens, claims = append(tokens, s), append(claims, c)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(tokens)
				if got, err := tok.Verify(tokens[k]); err != nil || !reflect.DeepEqual(got, claims[k]) {
					t.Errorf("Verify(token %d): got %+v, %v; want %+v, nil", k, got, err, claims[k])
					return
				}
			}
		})
	}
	wg.Wait()
}
