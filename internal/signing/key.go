package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/usersvc/usersvc/internal/security"
)

// StoredKey is a signing key as the database keeps it.
type StoredKey struct {
	ID      string // the kid tokens name it by
	Alg     string // security.EdDSA or security.ES256: the algorithms a ring can hold
	Public  []byte // PKIX DER, published in the JWKS
	Private []byte // PKCS #8 DER sealed by a Sealer: never plaintext
	// CreatedAt is when it becomes the signing key: the newest key whose
	// CreatedAt has come signs. A staged key's lies in the future.
	CreatedAt time.Time
	// PublishedAt is when it entered the JWKS; zero for a key stored by a
	// release without staging, published from CreatedAt.
	PublishedAt time.Time
	// RevokedAt is when it was withdrawn at once (a compromised key): from
	// then on it neither signs, verifies nor is published. Zero: never.
	RevokedAt time.Time
}

// generate makes a new key pair for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case security.EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case security.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q (want %s or %s)", alg, security.EdDSA, security.ES256)
	}
}

// newStoredKey generates a key for alg, published at now and signing from
// signsFrom, and seals its private half.
func newStoredKey(alg string, now, signsFrom time.Time, s *Sealer) (StoredKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return StoredKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return StoredKey{}, fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return StoredKey{}, fmt.Errorf("encode private key: %w", err)
	}
	k := StoredKey{
		ID: rand.Text()[:16], Alg: alg, Public: pub,
		CreatedAt:   signsFrom.UTC().Truncate(time.Microsecond),
		PublishedAt: now.UTC().Truncate(time.Microsecond),
	}
	k.Private = s.seal(der, k.ID, k.Alg)
	return k, nil
}

// privateKey opens k's private half with s (nil: there is no
// key-encryption key, ErrNoEncryptionKey) and checks that it is the private
// half of k's public one: the public half is stored in clear, and only
// the seal shows that a holder of the key-encryption key made the row.
func (k StoredKey) privateKey(s *Sealer) (crypto.Signer, error) {
	if s == nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, ErrNoEncryptionKey)
	}
	der, err := s.open(k.Private, k.ID, k.Alg)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok || !matches(k.Alg, signer.Public()) {
		return nil, fmt.Errorf("signing key %s: private key is not an %s key", k.ID, k.Alg)
	}
	pub, err := k.publicKey()
	if err != nil {
		return nil, err
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, ErrKeyMismatch)
	}
	return signer, nil
}

// publicKey decodes k's public half.
func (k StoredKey) publicKey() (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.Public)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	if !matches(k.Alg, pub) {
		return nil, fmt.Errorf("signing key %s: public key is not an %s key", k.ID, k.Alg)
	}
	return pub, nil
}

// matches reports whether pub is a key of alg.
func matches(alg string, pub crypto.PublicKey) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return alg == security.EdDSA
	case *ecdsa.PublicKey:
		return alg == security.ES256 && p.Curve == elliptic.P256()
	}
	return false
}
