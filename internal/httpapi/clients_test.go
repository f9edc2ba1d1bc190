package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/internal/app/apptest"
	"github.com/usersvc/usersvc/internal/security"
)

// Tests with clients nobody here wrote: go-oidc's discovery and verifier,
// and a JWKS cache of the kind that refetches only when its copy expires
// (never on an unknown kid), verifying our access tokens across a key
// rotation.

// publicServer is the service signing with EdDSA behind a real listener,
// its public URL (and so its issuer) the listener's address, as
// discovery-based clients need.
type publicServer struct {
	*server
	base   string
	client *http.Client
}

func newPublicServer(t *testing.T, kind string) publicServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	s := newServer(t, kind, apptest.Env("USERSVC_JWT_ALG", security.EdDSA, "USERSVC_PUBLIC_URL", base))
	ts.Config.Handler = s.h
	ts.Start()
	t.Cleanup(ts.Close)
	return publicServer{server: s, base: base, client: ts.Client()}
}

// onceJWKS is a verifier's JWKS cache that fetches the key set, keeps it
// for the max-age of its Cache-Control, and fetches it again only once
// that has passed: a token naming a kid it does not hold is refused, not a
// reason to refetch (as the Go library the issue names behaves).
type onceJWKS struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	expires   time.Time
	fetches   int
	unknownID int // tokens refused for a kid not held
}

var maxAgePattern = regexp.MustCompile(`max-age=(\d+)`)

func (c *onceJWKS) key(kid string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetches == 0 || !c.now().Before(c.expires) {
		if err := c.fetch(); err != nil {
			return nil, err
		}
	}
	if ks := c.keys.Key(kid); len(ks) == 1 {
		return ks[0].Key, nil
	}
	c.unknownID++
	return nil, fmt.Errorf("kid %q is not in the cached key set", kid)
}

func (c *onceJWKS) fetch() error {
	res, err := c.client.Get(c.url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return err
	}
	m := maxAgePattern.FindStringSubmatch(res.Header.Get("Cache-Control"))
	if m == nil {
		return errors.New("JWKS has no max-age")
	}
	seconds, _ := strconv.Atoi(m[1])
	c.keys, c.expires, c.fetches = set, c.now().Add(time.Duration(seconds)*time.Second), c.fetches+1
	return nil
}

// verify checks token as a service verifying our tokens with c would.
func (c *onceJWKS) verify(token, issuer string) error {
	_, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return c.key(kid)
	}, jwt.WithValidMethods([]string{security.EdDSA}), jwt.WithIssuer(issuer), jwt.WithAudience("usersvc"),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(c.now))
	return err
}

// verifiers are the two clients, set up from the issuer alone (go-oidc)
// or the JWKS URL (the cache), as their users configure them.
type verifiers struct {
	oidc  *oidc.IDTokenVerifier
	cache *onceJWKS
	ctx   context.Context
	base  string
}

func newVerifiers(t *testing.T, p publicServer) verifiers {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), p.client)
	provider, err := oidc.NewProvider(ctx, p.base)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", p.base, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURI != p.base+"/.well-known/jwks.json" {
		t.Fatalf("discovered jwks_uri %q (%v), want %s/.well-known/jwks.json", meta.JWKSURI, err, p.base)
	}
	return verifiers{
		oidc:  provider.VerifierContext(ctx, &oidc.Config{ClientID: "usersvc", Now: p.Clock.Now}),
		cache: &onceJWKS{url: meta.JWKSURI, client: p.client, now: p.Clock.Now},
		ctx:   ctx,
		base:  p.base,
	}
}

// check verifies token with both clients.
func (v verifiers) check(t *testing.T, token, what string) {
	t.Helper()
	if _, err := v.oidc.Verify(v.ctx, token); err != nil {
		t.Errorf("go-oidc: %s: %v", what, err)
	}
	if err := v.cache.verify(token, v.base); err != nil {
		t.Errorf("JWKS cache: %s: %v", what, err)
	}
}

// TestClientsVerifyAcrossStagedRotation: a rotated key is published before
// it signs, so both clients verify every token, old and new, through the
// rotation, and the cache never meets a kid it does not hold.
func TestClientsVerifyAcrossStagedRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, kind string) {
		p := newPublicServer(t, kind)
		v := newVerifiers(t, p)
		_, before := p.signedUp()
		v.check(t, before, "token before the rotation")

		info, err := p.App.Ring().Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// Verifiers go on with their cached key set; it expires (max-age)
		// long before the new key signs.
		for _, step := range []time.Duration{4 * time.Minute, 4 * time.Minute, 6 * time.Minute, 6*time.Minute + time.Second} {
			p.Clock.Advance(step)
			_, tok := p.signedUp()
			v.check(t, tok, fmt.Sprintf("token at +%s", step))
			v.check(t, before, "token of the old key")
		}
		_, after := p.signedUp()
		if kid := claimsKid(t, after); kid != info.ID {
			t.Fatalf("token after the publish delay has kid %s, want the new key %s", kid, info.ID)
		}
		v.check(t, after, "token of the new key")
		if v.cache.unknownID != 0 {
			t.Errorf("the cache met %d tokens of a kid it did not hold", v.cache.unknownID)
		}
		if v.cache.fetches < 2 {
			t.Errorf("the cache fetched the JWKS %d times, want a refetch at its max-age", v.cache.fetches)
		}
	})
}

// TestCacheRefusesAnImmediateRotation is the control: a key that signs as
// soon as it is made (rotate --now) is unknown to the cache until its copy
// expires, which is what staging prevents.
func TestCacheRefusesAnImmediateRotation(t *testing.T) {
	p := newPublicServer(t, apptest.SQLite)
	v := newVerifiers(t, p)
	_, before := p.signedUp()
	v.check(t, before, "token before the rotation")
	p.Clock.Advance(time.Second)
	if _, err := p.App.Ring().RotateNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, after := p.signedUp()
	if err := v.cache.verify(after, v.base); err == nil {
		t.Fatal("the cache verified a token of a key made after it fetched the JWKS: the control shows nothing")
	}
	if _, err := v.oidc.Verify(v.ctx, after); err != nil { // go-oidc refetches on an unknown kid
		t.Errorf("go-oidc: token of the new key: %v", err)
	}
	p.Clock.Advance(5 * time.Minute) // the cached copy expires
	if err := v.cache.verify(after, v.base); err != nil {
		t.Errorf("the cache after its max-age: %v", err)
	}
}

func claimsKid(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}
