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
var ErrWrongEncryptionKey = errors.New("stored signing key does not decrypt: USERSVC_KEY_ENCRYPTION_KEY is not the key it was sealed with (nor is USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS or USERSVC_KEY_ENCRYPTION_KEY_NEXT), or the row was altered")

// ErrNoEncryptionKey says a stored private key was to be opened with no
// key-encryption key at all (Load with a nil Sealer).
var ErrNoEncryptionKey = errors.New("stored signing key cannot be opened: there is no key-encryption key")

// ErrKeyMismatch says a stored signing key's public half is not the
// public half of its sealed private key: the row was altered.
var ErrKeyMismatch = errors.New("stored public key is not the private key's: the row was altered")

// Sealer encrypts private keys at rest with AES-256-GCM. Each sealed key is
// a fresh random 96-bit nonce followed by the ciphertext and tag; the key id
// and algorithm are authenticated as associated data, so a sealed key moved
// to another row does not open. During a rotation of the key-encryption
// key it also opens what one other key sealed (the previous key, or in
// the first roll the next one), and seals nothing new with it.
type Sealer struct {
	aead     cipher.AEAD
	previous *Sealer // nil: none
}

// NewSealer returns a Sealer under key, which must be 32 bytes, that also
// opens what previous (nil: none; 32 bytes too) sealed: the old key, or
// the new one before anything here seals with it.
func NewSealer(key, previous []byte) (*Sealer, error) {
	s, err := newAEAD(key)
	if err != nil || previous == nil {
		return s, err
	}
	if s.previous, err = newAEAD(previous); err != nil {
		return nil, fmt.Errorf("previous %w", err)
	}
	return s, nil
}

// Current is s without its previous key: it opens only what the current
// key sealed (`usersvc keys reseal` tells this way what needs resealing).
func (s *Sealer) Current() *Sealer { return &Sealer{aead: s.aead} }

func newAEAD(key []byte) (*Sealer, error) {
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

// KeyData is the associated data a signing key's private half is sealed
// with: its key id and algorithm.
func KeyData(kid, alg string) []byte {
	return []byte("usersvc signing key\x00" + kid + "\x00" + alg)
}

func (s *Sealer) seal(plain []byte, kid, alg string) []byte {
	return s.Seal(plain, KeyData(kid, alg))
}

func (s *Sealer) open(sealed []byte, kid, alg string) ([]byte, error) {
	return s.Open(sealed, KeyData(kid, alg))
}

// Seal encrypts plain under the key-encryption key, bound to ad: it opens
// only with the same ad. Other secrets kept at rest (webhook signing
// secrets) are sealed with it, each with an ad naming its row.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plain, ad)
}

// Open decrypts what Seal sealed with ad, under the current key or the
// previous one; ErrWrongEncryptionKey when it does not open.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	plain, err := s.open1(sealed, ad)
	if err != nil && s.previous != nil {
		return s.previous.open1(sealed, ad)
	}
	return plain, err
}

// open1 is Open with the current key alone.
func (s *Sealer) open1(sealed, ad []byte) ([]byte, error) {
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
	return s.Seal(plain, PurposeData(purpose))
}

// OpenFor decrypts what SealFor sealed for purpose (under the current key
// or the previous one); ErrWrongEncryptionKey when it does not open
// (another key, another purpose, altered).
func (s *Sealer) OpenFor(sealed []byte, purpose string) ([]byte, error) {
	return s.Open(sealed, PurposeData(purpose))
}

// PurposeData is SealFor's associated data for purpose: never equal to a
// signing key's (KeyData), whose prefix differs.
func PurposeData(purpose string) []byte { return []byte("usersvc sealed secret\x00" + purpose) }
