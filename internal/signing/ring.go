// Package signing keeps the asymmetric keys access tokens are signed with:
// a ring of keys stored in the database (private halves sealed with
// AES-256-GCM). A new key is published in the JWKS at once but signs only
// from a later moment (staged rotation), so that verifiers which cache the
// JWKS know it before they meet a token of it; its predecessor then stops
// signing, and keeps verifying, published, until every token it signed has
// expired. Every replica sharing the database reloads the ring, so a
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
	// AddKeyUnlessSince stores k unless a key of k.Alg that is not revoked
	// signs from a moment after since, and reports whether it stored k. Of
	// concurrent calls on one database with the same since, at most one
	// stores its key: replicas rotating on a schedule make one key.
	AddKeyUnlessSince(ctx context.Context, k StoredKey, since time.Time) (bool, error)
	// Keys returns every stored key, oldest first.
	Keys(ctx context.Context) ([]StoredKey, error)
	// RevokeKey marks the key kid revoked at at. A key that is missing or
	// revoked already is ErrNoSuchKey.
	RevokeKey(ctx context.Context, kid string, at time.Time) error
}

// Key states, as List reports them.
const (
	Pending  = "pending"  // published and verifying, signs from its CreatedAt on
	Active   = "active"   // signs new tokens
	Retiring = "retiring" // signs no more, verifies and is published until its tokens have expired
	Retired  = "retired"  // neither verifies nor is published
	Revoked  = "revoked"  // withdrawn at once: neither signs, verifies nor is published
)

// Info describes a stored key.
type Info struct {
	ID  string
	Alg string
	// PublishedAt is when it entered the JWKS.
	PublishedAt time.Time
	// CreatedAt is when it starts (or started) signing.
	CreatedAt time.Time
	State     string
	// RetiresAt is when a key that a successor replaces stops verifying;
	// zero while it has none.
	RetiresAt time.Time
	// RevokedAt is when it was revoked; zero if it was not.
	RevokedAt time.Time
}

// Errors of the ring's operations.
var (
	// ErrUnknownKey says a token names no key that verifies.
	ErrUnknownKey = errors.New("unknown or retired signing key")
	// ErrNoSuchKey says no stored key of the ring's algorithm has that id,
	// or it is revoked already.
	ErrNoSuchKey = errors.New("no such signing key, or it is revoked already")
	// ErrKeySigns refuses to revoke the key that signs new tokens: another
	// must sign first (RotateNow), or logins would fail.
	ErrKeySigns = errors.New("the key signs new tokens: rotate to a new key at once first (usersvc keys rotate --now), then revoke it")
)

// Options tune a Ring.
type Options struct {
	// Alg is the algorithm of the keys the ring signs and verifies with:
	// security.EdDSA (the default) or security.ES256. Stored keys of another algorithm are
	// ignored.
	Alg string
	// Overlap is how long a key keeps verifying after it stopped signing:
	// the access-token lifetime plus the clock-skew leeway plus
	// ReloadEvery (after RotateNow, a replica may sign with the old key
	// until it reloads).
	Overlap time.Duration
	// PublishDelay is how long a key made by Rotate is published before it
	// signs: longer than verifiers cache the JWKS, plus ReloadEvery. Zero
	// signs at once, as RotateNow does.
	PublishDelay time.Duration
	// RotateEvery, when positive, makes Run rotate (with PublishDelay) so
	// that a new key signs every RotateEvery. One replica of those sharing
	// the database makes the key (Repository.AddKeyUnlessSince).
	RotateEvery time.Duration
	// Rotated, when set, hears of each rotation Run makes, with Run's
	// context.
	Rotated func(context.Context, Info)
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

// key is a stored key of the ring's algorithm, as loaded.
type key struct {
	stored StoredKey // Private not kept: see private
	// signsUntil is when its successor starts signing; zero while it has
	// none.
	signsUntil time.Time
	public     crypto.PublicKey // nil for a key retired or revoked at load
	private    crypto.Signer    // only for a key that signs or will
}

// state is k's state at now.
func (k *key) state(now time.Time, overlap time.Duration) string {
	switch {
	case !k.stored.RevokedAt.IsZero() && !now.Before(k.stored.RevokedAt):
		return Revoked
	case now.Before(k.stored.CreatedAt):
		return Pending
	case k.signsUntil.IsZero() || now.Before(k.signsUntil):
		return Active
	case now.Before(k.signsUntil.Add(overlap)):
		return Retiring
	}
	return Retired
}

// verifies reports whether a key in state s verifies tokens and is
// published.
func verifies(s string) bool { return s == Pending || s == Active || s == Retiring }

// info describes k at now.
func (k *key) info(now time.Time, overlap time.Duration) Info {
	i := Info{
		ID: k.stored.ID, Alg: k.stored.Alg, PublishedAt: k.stored.PublishedAt, CreatedAt: k.stored.CreatedAt,
		State: k.state(now, overlap), RevokedAt: k.stored.RevokedAt,
	}
	if i.PublishedAt.IsZero() {
		i.PublishedAt = i.CreatedAt
	}
	if !k.signsUntil.IsZero() {
		i.RetiresAt = k.signsUntil.Add(overlap)
	}
	return i
}

// Ring is the set of keys in use. It is safe for concurrent use. The
// state of each key follows the clock, so that a staged key starts
// signing at its moment on every replica without a reload.
type Ring struct {
	repo   Repository
	sealer *Sealer
	opts   Options

	mu       sync.RWMutex
	keys     []*key          // every stored key of the algorithm, in signing order
	byID     map[string]*key // the keys of keys that had a public key at load
	loadedAt time.Time

	reload sync.Mutex // one reload at a time
}

// Open loads the ring of alg from repo, generating the first key (signing
// at once) when there is none, and fails when a key does not decrypt with
// sealer.
func Open(ctx context.Context, repo Repository, sealer *Sealer, opts Options) (*Ring, error) {
	r, err := Load(ctx, repo, sealer, opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := r.SigningKey(); err != nil {
		if _, err := r.RotateNow(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Load loads the ring of alg from repo as Open does, but never writes:
// with no key stored the ring has none (List is empty, SigningKey
// fails). For what only reads the keys (`usersvc keys list`). sealer
// may be nil where there is no key-encryption key: a stored key that
// verifies then fails to load (ErrNoEncryptionKey).
func Load(ctx context.Context, repo Repository, sealer *Sealer, opts Options) (*Ring, error) {
	if opts.Alg == "" {
		opts.Alg = security.EdDSA
	}
	if opts.Alg != security.EdDSA && opts.Alg != security.ES256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q (want %s or %s)", opts.Alg, security.EdDSA, security.ES256)
	}
	if opts.Overlap <= 0 {
		return nil, errors.New("key overlap must be positive")
	}
	if opts.PublishDelay < 0 || opts.RotateEvery < 0 {
		return nil, errors.New("key publish delay and rotation period must not be negative")
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
	return r, nil
}

// Rotate adds a new key, published from now on and signing once
// PublishDelay has passed; the previous one then stops signing and retires
// once its tokens have expired. Other replicas publish it at their next
// reload.
func (r *Ring) Rotate(ctx context.Context) (Info, error) {
	now := r.opts.Now()
	return r.add(ctx, now, now.Add(r.opts.PublishDelay))
}

// RotateNow adds a new key that signs from now on, for a key that must
// stop signing at once (it leaked). Verifiers that cache the JWKS may
// refuse the new key's tokens until they refetch it.
func (r *Ring) RotateNow(ctx context.Context) (Info, error) {
	now := r.opts.Now()
	return r.add(ctx, now, now)
}

func (r *Ring) add(ctx context.Context, now, signsFrom time.Time) (Info, error) {
	k, err := newStoredKey(r.opts.Alg, now, signsFrom, r.sealer)
	if err != nil {
		return Info{}, err
	}
	if err := r.repo.AddKey(ctx, k); err != nil {
		return Info{}, fmt.Errorf("store signing key: %w", err)
	}
	return r.reloaded(ctx, k.ID)
}

// reloaded reloads the ring and describes the key kid.
func (r *Ring) reloaded(ctx context.Context, kid string) (Info, error) {
	if err := r.Reload(ctx); err != nil {
		return Info{}, err
	}
	for _, i := range r.List() {
		if i.ID == kid {
			return i, nil
		}
	}
	return Info{}, ErrNoSuchKey
}

// RotateIfDue rotates, as Rotate does, when RotateEvery is set and the
// newest key signs (or will) since RotateEvery or longer by the time a new
// key would start signing. Of replicas calling it at once, one makes the
// key; it reports whether this one did.
func (r *Ring) RotateIfDue(ctx context.Context) (Info, bool, error) {
	if r.opts.RotateEvery <= 0 {
		return Info{}, false, nil
	}
	now := r.opts.Now()
	signsFrom := now.Add(r.opts.PublishDelay)
	since := signsFrom.Add(-r.opts.RotateEvery)
	if newest := r.newest(); newest != nil && newest.stored.CreatedAt.After(since) {
		return Info{}, false, nil
	}
	k, err := newStoredKey(r.opts.Alg, now, signsFrom, r.sealer)
	if err != nil {
		return Info{}, false, err
	}
	stored, err := r.repo.AddKeyUnlessSince(ctx, k, since)
	if err != nil {
		return Info{}, false, fmt.Errorf("store signing key: %w", err)
	}
	if !stored { // another replica rotated first: see its key
		return Info{}, false, r.Reload(ctx)
	}
	info, err := r.reloaded(ctx, k.ID)
	return info, err == nil, err
}

// newest is the key that signs last: the newest not revoked.
func (r *Ring) newest() *key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := len(r.keys) - 1; i >= 0; i-- {
		if r.keys[i].stored.RevokedAt.IsZero() {
			return r.keys[i]
		}
	}
	return nil
}

// Revoke withdraws the key kid at once, for a key that leaked: from now
// on this replica neither verifies its tokens nor publishes it, and the
// others from their next reload. The key that signs new tokens cannot be
// revoked (ErrKeySigns): RotateNow first.
func (r *Ring) Revoke(ctx context.Context, kid string) (Info, error) {
	if err := r.Reload(ctx); err != nil {
		return Info{}, err
	}
	now := r.opts.Now()
	r.mu.RLock()
	k, ok := r.byKidAll(kid)
	r.mu.RUnlock()
	switch {
	case !ok:
		return Info{}, ErrNoSuchKey
	case k.state(now, r.opts.Overlap) == Active:
		return Info{}, ErrKeySigns
	}
	if err := r.repo.RevokeKey(ctx, kid, now); err != nil {
		return Info{}, err
	}
	return r.reloaded(ctx, kid)
}

// byKidAll finds kid among every loaded key; r.mu held.
func (r *Ring) byKidAll(kid string) (*key, bool) {
	for _, k := range r.keys {
		if k.stored.ID == kid {
			return k, true
		}
	}
	return nil, false
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
	old := r.byID
	r.mu.RUnlock()
	keys := make([]*key, len(stored))
	var next *key // the key that signs after keys[i]: the next one that ever signs
	for i := len(stored) - 1; i >= 0; i-- {
		s := stored[i]
		k := &key{stored: s}
		k.stored.Private = nil
		if next != nil {
			k.signsUntil = next.stored.CreatedAt
		}
		// A key revoked before its moment came never signed: its
		// predecessor signs on until the next key's.
		if s.RevokedAt.IsZero() || s.RevokedAt.After(s.CreatedAt) {
			next = k
		}
		keys[i] = k
	}
	byID := map[string]*key{}
	for i, k := range keys {
		st := k.state(now, r.opts.Overlap)
		if !verifies(st) {
			continue
		}
		if err := k.open(stored[i], old[k.stored.ID], st, r.sealer); err != nil {
			return err
		}
		byID[k.stored.ID] = k
	}
	r.mu.Lock()
	r.keys, r.byID, r.loadedAt = keys, byID, now
	r.mu.Unlock()
	return nil
}

// open gives k, a key that verifies in state st, its public half and,
// if it signs or will, its private half: prev's when the previous load
// had them, else from s, the row's private half opening first whatever
// the state (a key verifies only if a holder of the key-encryption key
// made it: its public half is stored in clear).
func (k *key) open(s StoredKey, prev *key, st string, sealer *Sealer) error {
	if prev != nil {
		k.public, k.private = prev.public, prev.private
	} else {
		private, err := s.privateKey(sealer)
		if err != nil {
			return err
		}
		if k.public, err = s.publicKey(); err != nil {
			return err
		}
		k.private = private
	}
	if st != Active && st != Pending {
		k.private = nil // signs no more: not kept
		return nil
	}
	if k.private == nil { // retiring at the previous load, signs again (its successor was revoked before its moment)
		var err error
		k.private, err = s.privateKey(sealer)
		return err
	}
	return nil
}

// SigningKey returns the key that signs now and its id, for
// security.KeySource.
func (r *Ring) SigningKey() (string, any, error) {
	now := r.opts.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := len(r.keys) - 1; i >= 0; i-- {
		k := r.keys[i]
		if k.private != nil && k.state(now, r.opts.Overlap) == Active {
			return k.stored.ID, k.private, nil
		}
	}
	return "", nil, errors.New("no active signing key")
}

// VerificationKey returns the public key kid names while it verifies, for
// security.KeySource. A kid the ring does not know makes it reload, at
// most once per MinReload, in case another replica rotated.
func (r *Ring) VerificationKey(kid string) (any, error) {
	if pub, ok := r.lookup(kid); ok {
		return pub, nil
	}
	r.mu.RLock()
	_, known := r.byID[kid]
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
	k, ok := r.byID[kid]
	r.mu.RUnlock()
	if !ok || !verifies(k.state(r.opts.Now(), r.opts.Overlap)) {
		return nil, false
	}
	return k.public, true
}

// JWKS returns the public keys that verify now, staged ones included, in
// signing order, for /.well-known/jwks.json.
func (r *Ring) JWKS() jose.JSONWebKeySet {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	now := r.opts.Now()
	for _, k := range r.keys {
		if k.public == nil || !verifies(k.state(now, r.opts.Overlap)) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.public, KeyID: k.stored.ID, Algorithm: k.stored.Alg, Use: "sig"})
	}
	return set
}

// List returns every stored key of the ring's algorithm, in signing
// order, with its state now.
func (r *Ring) List() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := r.opts.Now()
	out := make([]Info, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.info(now, r.opts.Overlap)
	}
	return out
}

// Run reloads the ring every ReloadEvery (or on each of Ticks) until ctx
// ends, so that a rotation made elsewhere reaches this replica, and
// rotates when RotateEvery says it is due; failures go to onError.
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
			if err := r.tick(ctx); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// tick is one round of Run.
func (r *Ring) tick(ctx context.Context) error {
	if err := r.Reload(ctx); err != nil {
		return err
	}
	info, rotated, err := r.RotateIfDue(ctx)
	if rotated && r.opts.Rotated != nil {
		r.opts.Rotated(ctx, info)
	}
	return err
}
