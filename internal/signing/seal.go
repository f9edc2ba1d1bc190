package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeyEncryptionKeyBytes is the size of the key private keys are sealed
// with: AES-256.
const KeyEncryptionKeyBytes = 32

// ErrWrongEncryptionKey says a stored private key does not open with the
// configured key encryption key: it was sealed under another one, or the
// row was altered.
var ErrWrongEncryptionKey = errors.New("stored signing key does not decrypt: USERSVC_KEY_ENCRYPTION_KEY is not the key it was sealed with, or the row was altered")

// Sealer encrypts private keys at rest with AES-256-GCM. Each sealed key is
// a fresh random 96-bit nonce followed by the ciphertext and tag; the key id
// and algorithm are authenticated as associated data, so a sealed key moved
// to another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer under key, which must be 32 bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeyEncryptionKeyBytes {
		return nil, fmt.Errorf("key encryption key must be %d bytes, got %d", KeyEncryptionKeyBytes, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key encryption key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

func associatedData(kid, alg string) []byte {
	return []byte("usersvc signing key\x00" + kid + "\x00" + alg)
}

func (s *Sealer) seal(plain []byte, kid, alg string) []byte {
	return s.Seal(plain, associatedData(kid, alg))
}

func (s *Sealer) open(sealed []byte, kid, alg string) ([]byte, error) {
	return s.Open(sealed, associatedData(kid, alg))
}

// Seal encrypts plain under the key-encryption key, bound to ad: it opens
// only with the same ad. Other secrets kept at rest (webhook signing
// secrets) are sealed with it, each with an ad naming its row.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plain, ad)
}

// Open decrypts what Seal sealed with ad; ErrWrongEncryptionKey when it
// does not open.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongEncryptionKey
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrWrongEncryptionKey
	}
	return plain, nil
}

// SealFor encrypts plain, a secret that is not a signing key (a mailed
// token waiting in the job queue), for purpose: it opens only through
// OpenFor with the same purpose, so a sealed value moved elsewhere does
// not open. The purpose is authenticated, not encrypted.
func (s *Sealer) SealFor(plain []byte, purpose string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plain, purposeData(purpose))
}

// OpenFor decrypts what SealFor sealed for purpose; ErrWrongEncryptionKey
// when it does not open (another key, another purpose, altered).
func (s *Sealer) OpenFor(sealed []byte, purpose string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongEncryptionKey
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], purposeData(purpose))
	if err != nil {
		return nil, ErrWrongEncryptionKey
	}
	return plain, nil
}

// purposeData is SealFor's associated data: never equal to a signing
// key's (associatedData), whose prefix differs.
func purposeData(purpose string) []byte { return []byte("usersvc sealed secret\x00" + purpose) }
