package security

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultVerifiedTokens is how many verified tokens a JWT remembers unless
// WithVerifiedTokens says otherwise: about 200 bytes each, 3 MB when full.
// It should hold the tokens in use at once (every client whose access token
// is unexpired and busy): a memory smaller than that cycles and hits rarely
// (on SQLite the load test's 10,000 round-robin tokens ran at 9,000 req/s
// with 4,096 entries; 3,000 tokens, all remembered, at 13,700).
const DefaultVerifiedTokens = 16384

// WithVerifiedTokens sets how many already verified tokens a JWT remembers
// (DefaultVerifiedTokens otherwise; 0 turns the memory off).
func WithVerifiedTokens(n int) TokenOption { return func(t *JWT) { t.verified = newVerifiedTokens(n) } }

// Why it is worth its complexity: docs/benchmarks.md, "Part 3:
// optimisations" (BenchmarkTokenVerifyFirst against a remembered token,
// and the read scenario of the load test).
//
// verifiedTokens remembers the tokens whose signature and claims a JWT has
// already checked, so that a token used for many requests is verified once.
// An entry is keyed by the SHA-256 of the whole token, so only that exact
// token (header, claims and signature byte for byte) finds it: a token that
// differs anywhere is verified in full. A hit still checks expiry (and, for
// keys of a KeySource, that the key still verifies); everything else a
// verification checks (algorithm, issuer, audience, not-before, issue time)
// cannot change for a given token once it passed. It holds at most max
// entries, evicting an arbitrary one (Go's map order) when full. Safe for
// concurrent use.
type verifiedTokens struct {
	mu  sync.RWMutex
	max int
	m   map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what a verified token asserts, the times between which
// it is valid (from its issue and not-before times minus the leeway, until
// its expiry plus the leeway) and the id of the key that signed it.
type verifiedToken struct {
	claims      Claims
	from, until time.Time
	kid         string
}

func newVerifiedTokens(n int) *verifiedTokens {
	if n <= 0 {
		return nil
	}
	// The map grows with use: sized for n up front it would hold ~3 MB of
	// empty slots from the first request on, and the GC's target twice that.
	return &verifiedTokens{max: n, m: map[[sha256.Size]byte]verifiedToken{}}
}

// get returns the entry of the token whose hash is key, if any.
func (v *verifiedTokens) get(key [sha256.Size]byte) (verifiedToken, bool) {
	v.mu.RLock()
	e, ok := v.m[key]
	v.mu.RUnlock()
	return e, ok
}

// put remembers e under key, first evicting an entry when full.
func (v *verifiedTokens) put(key [sha256.Size]byte, e verifiedToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[key]; !ok && len(v.m) >= v.max {
		for k := range v.m {
			delete(v.m, k)
			break
		}
	}
	v.m[key] = e
}

// forget drops the entry of key (a token found expired).
func (v *verifiedTokens) forget(key [sha256.Size]byte) {
	v.mu.Lock()
	delete(v.m, key)
	v.mu.Unlock()
}

// len is the number of entries.
func (v *verifiedTokens) len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.m)
}
