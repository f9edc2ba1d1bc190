package config

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/usersvc/usersvc/internal/security"
)

// Tokens is the settings of access tokens beyond issuer and lifetime: the
// audience they are for, the clock skew tolerated when checking them, the
// signing algorithm and the key that seals the stored private keys.
// Config embeds it, so its variables sit beside the others.
type Tokens struct {
	JWTAudience string        `env:"USERSVC_JWT_AUDIENCE" envDefault:"usersvc"`
	JWTLeeway   time.Duration `env:"USERSVC_JWT_LEEWAY" envDefault:"30s"`
	JWTAlg      string        `env:"USERSVC_JWT_ALG" envDefault:"EdDSA"`
	// KeyEncryptionKey is base64 of 32 bytes: the AES-256-GCM key the
	// signing keys' private halves are sealed with in the database.
	KeyEncryptionKey string `env:"USERSVC_KEY_ENCRYPTION_KEY" secret:"true"`
	// KeyEncryptionKeyPrevious is the key-encryption key before the
	// current one, during its rotation: what was sealed with it still
	// opens, nothing new is sealed with it (`usersvc keys reseal` then
	// seals everything with the current one, and it can be unset).
	KeyEncryptionKeyPrevious string `env:"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS" secret:"true"`
	// KeyEncryptionKeyNext is the key-encryption key after the current
	// one, during the first roll of its rotation: what the replicas
	// already sealing with it seal opens here too, nothing is sealed with
	// it here. Never set together with KeyEncryptionKeyPrevious.
	KeyEncryptionKeyNext string `env:"USERSVC_KEY_ENCRYPTION_KEY_NEXT" secret:"true"`
	// KeyPublishDelay is how long a key made by `usersvc keys rotate` (or
	// the schedule) is published in the JWKS before it signs.
	KeyPublishDelay time.Duration `env:"USERSVC_KEY_PUBLISH_DELAY" envDefault:"20m"`
	// KeyRotateEvery, when positive, makes the service rotate the signing
	// key on that schedule (one replica makes each key); 0 is off.
	KeyRotateEvery time.Duration `env:"USERSVC_KEY_ROTATE_EVERY" envDefault:"0s"`
}

// Bounds of the key rotation settings.
const (
	MaxKeyPublishDelay = 24 * time.Hour
	MinKeyRotateEvery  = time.Hour
)

// KeyEncryptionKeyFile is the name, in the data directory, of the key
// encryption key that development mode generates when none is configured.
const KeyEncryptionKeyFile = "key_encryption_key"

// KeyEncryptionKeyBytes decodes USERSVC_KEY_ENCRYPTION_KEY (standard or
// URL-safe base64, padded or not); nil when it is unset.
func (t *Tokens) KeyEncryptionKeyBytes() ([]byte, error) {
	return decodeKey(t.KeyEncryptionKey)
}

// KeyEncryptionKeyPreviousBytes decodes
// USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS as KeyEncryptionKeyBytes does; nil
// when it is unset.
func (t *Tokens) KeyEncryptionKeyPreviousBytes() ([]byte, error) {
	return decodeKey(t.KeyEncryptionKeyPrevious)
}

// KeyEncryptionKeyNextBytes decodes USERSVC_KEY_ENCRYPTION_KEY_NEXT as
// KeyEncryptionKeyBytes does; nil when it is unset.
func (t *Tokens) KeyEncryptionKeyNextBytes() ([]byte, error) {
	return decodeKey(t.KeyEncryptionKeyNext)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must be base64 of 32 bytes, got %d bytes", len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("is not base64 (make one with: openssl rand -base64 32)")
}

func (t *Tokens) validate(env string, bad func(name, format string, args ...any)) {
	switch t.JWTAlg {
	case security.EdDSA, security.ES256:
		if _, err := t.KeyEncryptionKeyBytes(); err != nil {
			bad("USERSVC_KEY_ENCRYPTION_KEY", "%v", err)
		} else if t.KeyEncryptionKey == "" && env == Production {
			bad("USERSVC_KEY_ENCRYPTION_KEY", "is required in production with USERSVC_JWT_ALG=%s (base64 of 32 random bytes: openssl rand -base64 32)", t.JWTAlg)
		}
	case security.HS256:
	default:
		bad("USERSVC_JWT_ALG", "must be %s, %s or %s, got %q", security.EdDSA, security.ES256, security.HS256, t.JWTAlg)
	}
	t.validatePrevious(env, bad)
	t.validateNext(env, bad)
	if strings.TrimSpace(t.JWTAudience) == "" {
		bad("USERSVC_JWT_AUDIENCE", "must not be empty")
	}
	if t.KeyPublishDelay < 0 || t.KeyPublishDelay > MaxKeyPublishDelay {
		bad("USERSVC_KEY_PUBLISH_DELAY", "must be between 0s and %s, got %s", MaxKeyPublishDelay, t.KeyPublishDelay)
	}
	if t.KeyRotateEvery != 0 && (t.KeyRotateEvery < MinKeyRotateEvery || t.KeyRotateEvery <= t.KeyPublishDelay) {
		bad("USERSVC_KEY_ROTATE_EVERY", "must be 0s (off), or at least %s and longer than USERSVC_KEY_PUBLISH_DELAY (%s), got %s", MinKeyRotateEvery, t.KeyPublishDelay, t.KeyRotateEvery)
	}
	if t.JWTLeeway < 0 || t.JWTLeeway > security.MaxLeeway {
		bad("USERSVC_JWT_LEEWAY", "must be between 0s and %s, got %s", security.MaxLeeway, t.JWTLeeway)
	}
}

// validatePrevious checks USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS: a key, and
// only beside a current one that differs (in production, where the
// current one is never generated).
func (t *Tokens) validatePrevious(env string, bad func(name, format string, args ...any)) {
	prev, err := t.KeyEncryptionKeyPreviousBytes()
	switch {
	case err != nil:
		bad("USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "%v", err)
	case prev == nil:
	case t.KeyEncryptionKey == "" && env == Production:
		bad("USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "is set but USERSVC_KEY_ENCRYPTION_KEY is not: set the new key there and the old one here")
	default:
		if cur, err := t.KeyEncryptionKeyBytes(); err == nil && subtle.ConstantTimeCompare(cur, prev) == 1 {
			bad("USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS", "is the same key as USERSVC_KEY_ENCRYPTION_KEY: set the new key in USERSVC_KEY_ENCRYPTION_KEY and the old one here")
		}
	}
}

// validateNext checks USERSVC_KEY_ENCRYPTION_KEY_NEXT as validatePrevious
// does USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS, and that they are not both
// set: the first roll of a rotation comes after the reseal of the last.
func (t *Tokens) validateNext(env string, bad func(name, format string, args ...any)) {
	next, err := t.KeyEncryptionKeyNextBytes()
	switch {
	case err != nil:
		bad("USERSVC_KEY_ENCRYPTION_KEY_NEXT", "%v", err)
	case next == nil:
	case strings.TrimSpace(t.KeyEncryptionKeyPrevious) != "":
		bad("USERSVC_KEY_ENCRYPTION_KEY_NEXT", "is set beside USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS: finish the rotation under way (`usersvc keys reseal`, then remove USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS) before starting the next")
	case t.KeyEncryptionKey == "" && env == Production:
		bad("USERSVC_KEY_ENCRYPTION_KEY_NEXT", "is set but USERSVC_KEY_ENCRYPTION_KEY is not: keep the key in use there and set the new one here")
	default:
		if cur, err := t.KeyEncryptionKeyBytes(); err == nil && subtle.ConstantTimeCompare(cur, next) == 1 {
			bad("USERSVC_KEY_ENCRYPTION_KEY_NEXT", "is the same key as USERSVC_KEY_ENCRYPTION_KEY: set the new key here and keep the one in use there")
		}
	}
}
