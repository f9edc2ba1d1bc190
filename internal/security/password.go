// Package security hashes passwords and issues and verifies access tokens.
// It knows nothing about users or HTTP.
package security

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Bcrypt hashes passwords with bcrypt at a fixed cost.
type Bcrypt struct {
	cost int
}

// NewBcrypt returns a hasher at cost, which must be within bcrypt's range.
func NewBcrypt(cost int) (*Bcrypt, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	return &Bcrypt{cost: cost}, nil
}

// Hash returns the bcrypt hash of password. Passwords over 72 bytes are
// refused (bcrypt.ErrPasswordTooLong), never truncated.
func (b *Bcrypt) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), b.cost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(h), nil
}

// Verify reports whether password matches hash. bcrypt compares the
// derived keys in constant time.
func (b *Bcrypt) Verify(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
