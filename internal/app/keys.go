package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/security"
	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
)

// KeyReloadEvery is how often a serving replica rereads the signing keys,
// so that a rotation made anywhere reaches it without a restart.
const KeyReloadEvery = security.KeyReloadEvery

// tokenKeys is what serving needs of the signing setup: the token issuer
// and verifier, and the key set /.well-known/jwks.json publishes.
type tokenKeys struct {
	tokens *security.JWT
	jwks   func() jose.JSONWebKeySet
	// derived keys what the service derives (user.Deps.Secret): the same
	// on every replica, the service key stored in the database (or, with
	// HS256, derived from the secret they already share).
	derived []byte
	// seal seals the tokens of queued mail: under the key-encryption key
	// (opening with the previous one too), or with HS256 (which needs
	// none) a key derived from the shared secret.
	seal *signing.Sealer
}

// openKeys sets up token signing as USERSVC_JWT_ALG says: HS256 with the
// shared secret (nothing to publish), or EdDSA/ES256 with the key ring in
// the database, its first key made now when there is none, reloaded in
// the background until bg ends.
func (a *App) openKeys(ctx, bg context.Context, now func() time.Time, reloads <-chan time.Time) (tokenKeys, error) {
	cfg := a.cfg
	opts := []security.TokenOption{security.WithAudience(cfg.JWTAudience), security.WithLeeway(cfg.JWTLeeway)}
	if cfg.JWTAlg == security.HS256 {
		return hs256Keys(cfg, a.log, now, opts)
	}
	sealer, err := keySealer(cfg, a.log)
	if err != nil {
		return tokenKeys{}, err
	}
	// The ring first: its keys opening shows the key-encryption keys are
	// the deployment's before a first start stores the service key.
	ring, err := openRing(ctx, cfg, a.db, sealer, now, reloads, a.rotatedOnSchedule)
	if err != nil {
		return tokenKeys{}, err
	}
	a.ring = ring
	derived, err := a.serviceKey(ctx, sealer)
	if err != nil {
		return tokenKeys{}, err
	}
	// See rotations made by other replicas or `usersvc keys rotate`.
	go ring.Run(bg, a.keyReloadFailed)
	tokens, err := security.NewSigned(cfg.JWTAlg, ring, cfg.JWTIssuer, cfg.AccessTokenTTL, now, opts...)
	return tokenKeys{tokens: tokens, jwks: ring.JWKS, derived: derived, seal: sealer}, err
}

// keyScheduleAgent is the user agent of the audit events of the
// rotations the service makes on schedule: they have no actor, as the
// commands' have none and name the command.
const keyScheduleAgent = "usersvc serve (signing key rotation schedule, USERSVC_KEY_ROTATE_EVERY)"

// rotatedOnSchedule logs the key i the key ring made on schedule and
// records it in the audit log as `usersvc keys rotate` does, by the
// schedule (keyScheduleAgent; detail "by": "schedule").
func (a *App) rotatedOnSchedule(ctx context.Context, i signing.Info) {
	a.log.Info("rotated the signing key on schedule", "kid", i.ID, "signs_from", i.CreatedAt.UTC().Format(time.RFC3339))
	detail := RotationDetail(i)
	detail["by"] = "schedule"
	ctx = user.WithClient(ctx, user.Client{UserAgent: keyScheduleAgent})
	if err := RecordKeyChange(ctx, a.db, AuditKeyRotated, i.ID, detail); err != nil {
		a.log.Error("rotated the signing key on schedule", "kid", i.ID, "error", err.Error())
	}
}

// keyReloadFailed logs and counts a reload of the signing keys that
// failed: the ring keeps the keys it last loaded, so the service goes on,
// but a key another replica made (a rotation, a key-encryption key this
// one lacks) is neither published nor verified here until a reload works.
func (a *App) keyReloadFailed(err error) {
	a.metrics.SigningKeyReloadFailed()
	a.log.Warn("reload signing keys", "error", err.Error())
}

// hs256Keys is openKeys with USERSVC_JWT_ALG=HS256: every key comes from
// the shared secret, as it always has (changing the secret changes them
// all).
func hs256Keys(cfg config.Config, log *slog.Logger, now func() time.Time, opts []security.TokenOption) (tokenKeys, error) {
	secret, err := jwtSecret(cfg, log)
	if err != nil {
		return tokenKeys{}, err
	}
	tokens, err := security.NewHS256(secret, cfg.JWTIssuer, cfg.AccessTokenTTL, now, opts...)
	empty := func() jose.JSONWebKeySet { return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}} }
	derived, derr := deriveKey(secret)
	seal, serr := queueSealer(cfg, secret, nil)
	return tokenKeys{tokens: tokens, jwks: empty, derived: derived, seal: seal}, errors.Join(err, derr, serr)
}

// serviceKeyStore is a Store that keeps the service key: both databases
// do.
type serviceKeyStore interface {
	ServiceKeys() signing.ServiceKeys
}

// serviceKey is the service key stored in the database, opened with
// sealer. A database of an earlier release has none: the key that release
// derived from the key-encryption key at each start is stored first, so
// that nothing keyed by it changes (firstServiceKey).
func (a *App) serviceKey(ctx context.Context, sealer *signing.Sealer) ([]byte, error) {
	return serviceKey(ctx, a.cfg, a.db, a.log, sealer)
}

// serviceKey is App.serviceKey on db, for serve and `usersvc keys reseal`.
func serviceKey(ctx context.Context, cfg config.Config, db Store, log *slog.Logger, sealer *signing.Sealer) ([]byte, error) {
	ks, ok := db.(serviceKeyStore)
	if !ok {
		return nil, errors.New("the store keeps no service key: use USERSVC_JWT_ALG=HS256")
	}
	return signing.OpenServiceKey(ctx, ks.ServiceKeys(), sealer, func() ([]byte, error) {
		return firstServiceKey(ctx, cfg, db, log)
	})
}

// firstServiceKey is the service key to store when none is: the one
// earlier releases derived from their key-encryption key, which is the
// key their signing keys are sealed with. During a rotation that may be
// either configured key (the current one in the first roll, the previous
// one in the second), so it is the one that opens the oldest stored
// signing key, never one that merely opens; with no signing key stored
// (a new database) nothing is sealed yet and it is the current key.
func firstServiceKey(ctx context.Context, cfg config.Config, db Store, log *slog.Logger) ([]byte, error) {
	kek, opening, err := keyEncryptionKeys(cfg, log, generateDevKey)
	if err != nil {
		return nil, err
	}
	keys, err := db.SigningKeys().Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the signing keys: %w", err)
	}
	if len(keys) == 0 {
		return deriveKey(kek)
	}
	oldest := keys[0]
	for _, k := range [][]byte{kek, opening} {
		if k == nil {
			continue
		}
		s, err := signing.NewSealer(k, nil)
		if err != nil {
			return nil, err
		}
		if _, err := s.Open(oldest.Private, signing.KeyData(oldest.ID, oldest.Alg)); err == nil {
			return deriveKey(k)
		}
	}
	return nil, fmt.Errorf("store the service key: signing key %s: %w", oldest.ID, signing.ErrWrongEncryptionKey)
}

// queueSealer seals the tokens of queued mail under the key from
// secret (sealKey), opening what previous (nil: none) sealed too.
func queueSealer(cfg config.Config, secret, previous []byte) (*signing.Sealer, error) {
	key, err := sealKey(cfg, secret)
	if err != nil {
		return nil, err
	}
	return signing.NewSealer(key, previous)
}

// sealKey is the key that seals the tokens of queued mail, from secret:
// the key-encryption key itself, or with HS256 (which needs none) a key
// derived from the JWT secret.
func sealKey(cfg config.Config, secret []byte) ([]byte, error) {
	if cfg.JWTAlg != security.HS256 {
		return secret, nil
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "usersvc job seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the mail sealing key: %w", err)
	}
	return k, nil
}

// deriveKey derives the service's own key from a secret every replica
// shares (the key-encryption key, or the HS256 secret), with HKDF-SHA256:
// nothing derived from it reveals the secret.
func deriveKey(secret []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, "usersvc service key v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the service key: %w", err)
	}
	return k, nil
}

// OpenRing opens the key ring of cfg's algorithm on db's database, its
// first key made when there is none.
func OpenRing(ctx context.Context, cfg config.Config, db Store, log *slog.Logger, now func() time.Time) (*signing.Ring, error) {
	sealer, err := keySealer(cfg, log)
	if err != nil {
		return nil, err
	}
	return openRing(ctx, cfg, db, sealer, now, nil, nil)
}

// RingToChange loads the key ring of cfg's algorithm on db's database as
// it is, for `usersvc keys rotate` and `retire`: unlike OpenRing it makes
// no first key, so that a rotation on a database without one makes one
// key, not two, and a refused retirement none. In development it
// generates the key-encryption key as serve does: these commands write.
func RingToChange(ctx context.Context, cfg config.Config, db Store, log *slog.Logger, now func() time.Time) (*signing.Ring, error) {
	sealer, err := keySealer(cfg, log)
	if err != nil {
		return nil, err
	}
	return loadRing(ctx, cfg, db, sealer, now)
}

// LoadRing loads the key ring of cfg's algorithm on db's database as it
// is, writing nothing: with no key stored it has none. For `usersvc keys
// list`, which only reads: it never generates the development
// key-encryption key either, and without one lists no keys (warning that
// there is none), or fails with ErrNoDevKey when keys are stored.
func LoadRing(ctx context.Context, cfg config.Config, db Store, log *slog.Logger, now func() time.Time) (*signing.Ring, error) {
	sealer, err := existingKeySealer(cfg, log)
	if errors.Is(err, ErrNoDevKey) {
		// Nothing to open keys with: enough to list none, and a stored key
		// fails to load (signing.ErrNoEncryptionKey), made by nobody here.
		ring, lerr := loadRing(ctx, cfg, db, nil, now)
		if lerr != nil {
			return nil, fmt.Errorf("%w: %w", lerr, err)
		}
		log.Warn(err.Error(), "file", filepath.Join(cfg.DataDir, config.KeyEncryptionKeyFile))
		return ring, nil
	}
	if err != nil {
		return nil, err
	}
	return loadRing(ctx, cfg, db, sealer, now)
}

// loadRing loads the key ring of cfg's algorithm on db's database as it
// is, making no key, its private keys opened by sealer (nil: none, and a
// stored key fails to load with signing.ErrNoEncryptionKey).
func loadRing(ctx context.Context, cfg config.Config, db Store, sealer *signing.Sealer, now func() time.Time) (*signing.Ring, error) {
	ring, err := signing.Load(ctx, db.SigningKeys(), sealer, ringOptions(cfg, now, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ring, nil
}

// openRing opens the key ring of cfg's algorithm on db's database, its
// private keys sealed by sealer; rotated hears of the scheduled rotations
// (nil: nobody).
func openRing(ctx context.Context, cfg config.Config, db Store, sealer *signing.Sealer, now func() time.Time, reloads <-chan time.Time, rotated func(context.Context, signing.Info)) (*signing.Ring, error) {
	ring, err := signing.Open(ctx, db.SigningKeys(), sealer, ringOptions(cfg, now, reloads, rotated))
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ring, nil
}

// ringOptions are the key ring's options as cfg sets them.
func ringOptions(cfg config.Config, now func() time.Time, reloads <-chan time.Time, rotated func(context.Context, signing.Info)) signing.Options {
	return signing.Options{
		Alg: cfg.JWTAlg,
		// A key verifies until every token it signed has expired: tokens
		// live AccessTokenTTL, are accepted JWTLeeway longer, and a replica
		// may sign with the old key until its next reload.
		Overlap: cfg.AccessTokenTTL + cfg.JWTLeeway + KeyReloadEvery,
		// A rotated key is published this long before it signs; every
		// replica learns it at its next reload (KeyReloadEvery), well
		// within the delay.
		PublishDelay: cfg.KeyPublishDelay,
		RotateEvery:  cfg.KeyRotateEvery,
		Rotated:      rotated,
		ReloadEvery:  KeyReloadEvery,
		Ticks:        reloads,
		// A token naming an unknown kid rereads the keys at most this often:
		// prompt after a rotation, one cheap query a second at worst under
		// forged kids.
		MinReload: time.Second,
		Now:       now,
	}
}

// ErrNoDevKey is a command that only reads run with neither
// USERSVC_KEY_ENCRYPTION_KEY nor a development key in the data directory:
// it makes none (existingKeySealer).
var ErrNoDevKey = errors.New("USERSVC_KEY_ENCRYPTION_KEY is not set and USERSVC_DATA_DIR holds no development key-encryption key: " +
	"a command that only reads makes none (serve, and the commands that change something, generate it in development)")

// devKey says what keyEncryptionKey does when the key-encryption key is
// not configured and the data directory holds no development key.
type devKey bool

const (
	generateDevKey devKey = true  // make it: serve, the commands that write
	existingDevKey devKey = false // never: ErrNoDevKey (the commands that only read)
)

// keyEncryptionKey is the configured key or, in development, the one kept
// in the data directory, generated there when absent if dev says so.
func keyEncryptionKey(cfg config.Config, log *slog.Logger, dev devKey) ([]byte, error) {
	if cfg.KeyEncryptionKey != "" {
		return cfg.KeyEncryptionKeyBytes()
	}
	file := filepath.Join(cfg.DataDir, config.KeyEncryptionKeyFile)
	if dev == existingDevKey {
		key, ok, err := config.ExistingDevKeyEncryptionKey(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNoDevKey
		}
		warnDevSecret(log, "USERSVC_KEY_ENCRYPTION_KEY", "key", file, false)
		return key, nil
	}
	key, created, err := config.DevKeyEncryptionKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	warnDevSecret(log, "USERSVC_KEY_ENCRYPTION_KEY", "key", file, created)
	return key, nil
}

// keySealer seals under the key-encryption key (keyEncryptionKey,
// generated in development when absent) and opens what it or the other
// key of a rotation under way sealed.
func keySealer(cfg config.Config, log *slog.Logger) (*signing.Sealer, error) {
	return newKeySealer(cfg, log, generateDevKey)
}

// existingKeySealer is keySealer for the commands that only read: it
// never generates the development key (ErrNoDevKey).
func existingKeySealer(cfg config.Config, log *slog.Logger) (*signing.Sealer, error) {
	return newKeySealer(cfg, log, existingDevKey)
}

// newKeySealer is keySealer, generating the development key as dev says.
func newKeySealer(cfg config.Config, log *slog.Logger, dev devKey) (*signing.Sealer, error) {
	kek, opening, err := keyEncryptionKeys(cfg, log, dev)
	if err != nil {
		return nil, err
	}
	sealer, err := signing.NewSealer(kek, opening)
	if err != nil {
		return nil, fmt.Errorf("USERSVC_KEY_ENCRYPTION_KEY: %w", err)
	}
	return sealer, nil
}

// keyEncryptionKeys are the key-encryption key (keyEncryptionKey) and the
// key that only opens during its rotation: the old one
// (USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS, in the second roll and until the
// reseal) or the new one (USERSVC_KEY_ENCRYPTION_KEY_NEXT, in the first
// roll, while replicas already sealing with it may run beside this one);
// nil when neither is set (config allows at most one).
func keyEncryptionKeys(cfg config.Config, log *slog.Logger, dev devKey) (kek, opening []byte, err error) {
	if kek, err = keyEncryptionKey(cfg, log, dev); err != nil {
		return nil, nil, err
	}
	if opening, err = cfg.KeyEncryptionKeyPreviousBytes(); err != nil {
		return nil, nil, fmt.Errorf("USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS: %w", err)
	}
	if opening != nil {
		return kek, opening, nil
	}
	if opening, err = cfg.KeyEncryptionKeyNextBytes(); err != nil {
		return nil, nil, fmt.Errorf("USERSVC_KEY_ENCRYPTION_KEY_NEXT: %w", err)
	}
	return kek, opening, nil
}

// jwtSecret is the configured secret or, in development, one generated and
// kept in the data directory.
func jwtSecret(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	secret, created, err := config.DevSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	warnDevSecret(log, "USERSVC_JWT_SECRET", "secret", filepath.Join(cfg.DataDir, config.SecretFile), created)
	return secret, nil
}

// warnDevSecret says that the development secret what (the setting name)
// in file is in use, and whether it was made now.
func warnDevSecret(log *slog.Logger, name, what, file string, created bool) {
	if created {
		log.Warn(name+" is not set: generated a development "+what+"; set "+name+" in production", "file", file)
		return
	}
	log.Warn(name+" is not set: using the development "+what, "file", file)
}

// The audit events of the signing keys' administration (`usersvc keys`),
// recorded in the service's audit log with no actor and the command as
// the user agent; their detail names the key ("kid"), never its material.
const (
	AuditKeyRotated   user.AuditKind = "signing_key.rotated"
	AuditKeyRevoked   user.AuditKind = "signing_key.revoked"
	AuditKeysResealed user.AuditKind = "signing_keys.resealed"
)

// KeyAuditKinds lists the audit events of the signing keys.
var KeyAuditKinds = []user.AuditKind{AuditKeyRotated, AuditKeyRevoked, AuditKeysResealed}

// RotationDetail is the audit detail of the rotation that made the key i
// (its kid is RecordKeyChange's): its algorithm and when it signs from.
func RotationDetail(i signing.Info) map[string]string {
	return map[string]string{"alg": i.Alg, "signs_from": i.CreatedAt.UTC().Format(time.RFC3339)}
}

// RecordKeyChange appends the audit event of kind about the signing key
// kid ("" for none) to db's audit log, with detail, by the caller ctx
// names (user.WithClient: the command and its operator).
func RecordKeyChange(ctx context.Context, db Store, kind user.AuditKind, kid string, detail map[string]string) error {
	d := map[string]string{}
	if kid != "" {
		d["kid"] = kid
	}
	maps.Copy(d, detail)
	c := user.ClientFrom(ctx)
	err := db.Stores().Audit.Append(ctx, user.AuditEvent{
		At: time.Now().UTC(), Kind: kind, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID, Detail: d,
	})
	if err != nil {
		return fmt.Errorf("done, but its audit event (%s) was not recorded: %w", kind, err)
	}
	return nil
}
