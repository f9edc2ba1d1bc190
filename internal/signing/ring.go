// Package signing keeps the asymmetric keys access tokens are signed with:
// a ring of keys stored in the database (private halves sealed with
// AES-256-GCM), the newest of which signs, while its predecessors keep
// verifying, and stay published in the JWKS, until every token they signed
// has expired. Every replica sharing the database reloads the ring, so a
// rotation needs no restart.
package signing

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/security"
)

// Repository stores signing keys. Stores implement it on their database.
type Repository interface {
	// AddKey stores k.
	AddKey(ctx context.Context, k StoredKey) error
	// Keys returns every stored key, oldest first.
	Keys(ctx context.Context) ([]StoredKey, error)
}

// Key states, as List reports them.
const (
	Active   = "active"   // signs new tokens
	Retiring = "retiring" // signs no more, verifies and is published until its tokens have expired
	Retired  = "retired"  // neither verifies nor is published
)

// Info describes a stored key.
type Info struct {
	ID        string
	Alg       string
	CreatedAt time.Time
	State     string
	// RetiresAt is when a retiring key stops verifying; zero for the active
	// key.
	RetiresAt time.Time
}

// ErrUnknownKey says a token names no key that verifies.
var ErrUnknownKey = errors.New("unknown or retired signing key")

// Options tune a Ring.
type Options struct {
	// Alg is the algorithm of the keys the ring signs and verifies with:
	// security.EdDSA (the default) or security.ES256. Stored keys of another algorithm are
	// ignored.
	Alg string
	// Overlap is how long a key keeps verifying after its successor was
	// created: the access-token lifetime plus the clock-skew leeway plus
	// ReloadEvery (a replica may sign with the old key until it reloads).
	Overlap time.Duration
	// ReloadEvery is how often Run reloads the ring. Zero means 30 s.
	ReloadEvery time.Duration
	// MinReload is the least time between two reloads caused by tokens
	// naming an unknown kid, so that forged kids cannot flood the database.
	// Zero means 5 s.
	MinReload time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ticks, when set, paces Run instead of a ticker of ReloadEvery: Run
	// reloads once per value received. Tests drive the periodic reload
	// with it, as they drive the clock with Now.
	Ticks <-chan time.Time
}

// key is a usable key of the ring.
type key struct {
	info    Info
	public  crypto.PublicKey
	private crypto.Signer // only for the active key
}

// Ring is the set of keys in use. It is safe for concurrent use.
type Ring struct {
	repo   Repository
	sealer *Sealer
	opts   Options

	mu       sync.RWMutex
	active   *key
	keys     map[string]*key // by kid: the active and the retiring keys
	infos    []Info          // every stored key of the algorithm, oldest first
	loadedAt time.Time

	reload sync.Mutex // one reload at a time
}

// Open loads the ring of alg from repo, generating the first key when
// there is none, and fails when a key does not decrypt with sealer.
func Open(ctx context.Context, repo Repository, sealer *Sealer, opts Options) (*Ring, error) {
	if opts.Alg == "" {
		opts.Alg = security.EdDSA
	}
	if opts.Alg != security.EdDSA && opts.Alg != security.ES256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q (want %s or %s)", opts.Alg, security.EdDSA, security.ES256)
	}
	if opts.Overlap <= 0 {
		return nil, errors.New("key overlap must be positive")
	}
	if opts.ReloadEvery <= 0 {
		opts.ReloadEvery = 30 * time.Second
	}
	if opts.MinReload <= 0 {
		opts.MinReload = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Ring{repo: repo, sealer: sealer, opts: opts}
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	if r.current() == nil {
		if _, err := r.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Rotate adds a new key, which signs from now on; the previous one retires
// once its tokens have expired. Other replicas start signing with it at
// their next reload.
func (r *Ring) Rotate(ctx context.Context) (Info, error) {
	k, err := newStoredKey(r.opts.Alg, r.opts.Now(), r.sealer)
	if err != nil {
		return Info{}, err
	}
	if err := r.repo.AddKey(ctx, k); err != nil {
		return Info{}, fmt.Errorf("store signing key: %w", err)
	}
	if err := r.Reload(ctx); err != nil {
		return Info{}, err
	}
	return Info{ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, State: Active}, nil
}

// Reload reads the keys from the database again.
func (r *Ring) Reload(ctx context.Context) error {
	r.reload.Lock()
	defer r.reload.Unlock()
	return r.load(ctx)
}

func (r *Ring) load(ctx context.Context) error {
	now := r.opts.Now()
	stored, err := r.repo.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	stored = slices.DeleteFunc(stored, func(k StoredKey) bool { return k.Alg != r.opts.Alg })
	slices.SortStableFunc(stored, func(a, b StoredKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	r.mu.RLock()
	old := r.keys
	r.mu.RUnlock()
	infos := make([]Info, len(stored))
	keys := map[string]*key{}
	var active *key
	for i, s := range stored {
		info := Info{ID: s.ID, Alg: s.Alg, CreatedAt: s.CreatedAt, State: Active}
		if i+1 < len(stored) {
			info.RetiresAt = stored[i+1].CreatedAt.Add(r.opts.Overlap)
			info.State = state(info, now)
		}
		infos[i] = info
		if info.State == Retired {
			continue
		}
		k := &key{info: info}
		if prev, ok := old[s.ID]; ok {
			k.public, k.private = prev.public, prev.private
		} else if k.public, err = s.publicKey(); err != nil {
			return err
		}
		if info.State == Active {
			if k.private == nil {
				if k.private, err = s.privateKey(r.sealer); err != nil {
					return err
				}
			}
			active = k
		}
		keys[s.ID] = k
	}
	r.mu.Lock()
	r.active, r.keys, r.infos, r.loadedAt = active, keys, infos, now
	r.mu.Unlock()
	return nil
}

// state is the state at now of a key that has a successor.
func state(i Info, now time.Time) string {
	if now.Before(i.RetiresAt) {
		return Retiring
	}
	return Retired
}

func (r *Ring) current() *key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.active
}

// SigningKey returns the active key and its id, for security.KeySource.
func (r *Ring) SigningKey() (string, any, error) {
	k := r.current()
	if k == nil {
		return "", nil, errors.New("no active signing key")
	}
	return k.info.ID, k.private, nil
}

// VerificationKey returns the public key kid names while it verifies, for
// security.KeySource. A kid the ring does not know makes it reload, at
// most once per MinReload, in case another replica rotated.
func (r *Ring) VerificationKey(kid string) (any, error) {
	if pub, ok := r.lookup(kid); ok {
		return pub, nil
	}
	r.mu.RLock()
	_, known := r.keys[kid]
	stale := r.opts.Now().Sub(r.loadedAt) >= r.opts.MinReload
	r.mu.RUnlock()
	if known || !stale || !r.reload.TryLock() {
		return nil, ErrUnknownKey
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := r.load(ctx)
	cancel()
	r.reload.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w (reload failed: %w)", ErrUnknownKey, err)
	}
	if pub, ok := r.lookup(kid); ok {
		return pub, nil
	}
	return nil, ErrUnknownKey
}

// lookup returns kid's public key if it verifies now.
func (r *Ring) lookup(kid string) (crypto.PublicKey, bool) {
	r.mu.RLock()
	k, ok := r.keys[kid]
	r.mu.RUnlock()
	if !ok || (k.info.State != Active && !r.opts.Now().Before(k.info.RetiresAt)) {
		return nil, false
	}
	return k.public, true
}

// JWKS returns the public keys that verify now, for
// /.well-known/jwks.json.
func (r *Ring) JWKS() jose.JSONWebKeySet {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	now := r.opts.Now()
	for _, i := range r.infos {
		k, ok := r.keys[i.ID]
		if !ok || (i.State != Active && !now.Before(i.RetiresAt)) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.public, KeyID: i.ID, Algorithm: i.Alg, Use: "sig"})
	}
	return set
}

// List returns every stored key of the ring's algorithm, oldest first,
// with its state now.
func (r *Ring) List() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := r.opts.Now()
	out := slices.Clone(r.infos)
	for i := range out {
		if out[i].State != Active {
			out[i].State = state(out[i], now)
		}
	}
	return out
}

// Run reloads the ring every ReloadEvery (or on each of Ticks) until ctx
// ends, so that a rotation made elsewhere reaches this replica; failures go
// to onError.
func (r *Ring) Run(ctx context.Context, onError func(error)) {
	ticks := r.opts.Ticks
	if ticks == nil {
		t := time.NewTicker(r.opts.ReloadEvery)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
