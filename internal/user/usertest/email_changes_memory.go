package usertest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryEmailChanges is Memory's user.EmailChanges.
type memoryEmailChanges struct{ memoryConn }

var _ user.EmailChanges = memoryEmailChanges{}

// Create implements user.EmailChanges.
func (m memoryEmailChanges) Create(_ context.Context, c user.EmailChange) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[c.UserID]; !ok {
		return errForeignKey
	}
	c.Hash = bytes.Clone(c.Hash)
	m.emailChanges[string(c.Hash)] = c
	return nil
}

// Use implements user.EmailChanges.
func (m memoryEmailChanges) Use(_ context.Context, hash []byte, now time.Time) (user.EmailChange, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.EmailChange{}, err
	}
	c, ok := m.emailChanges[string(hash)]
	if !ok || !c.UsedAt.IsZero() || !now.Before(c.ExpiresAt) {
		return user.EmailChange{}, user.ErrInvalidToken
	}
	c.UsedAt = now
	m.emailChanges[string(hash)] = c
	c.Hash = bytes.Clone(c.Hash)
	return c, nil
}

// UseAll implements user.EmailChanges.
func (m memoryEmailChanges) UseAll(_ context.Context, userID uuid.UUID, now time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	for h, c := range m.emailChanges {
		if c.UserID == userID && c.UsedAt.IsZero() {
			c.UsedAt = now
			m.emailChanges[h] = c
		}
	}
	return nil
}

// Held implements user.EmailChanges.
func (m memoryEmailChanges) Held(_ context.Context, email string, except uuid.UUID, now time.Time) (bool, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return false, err
	}
	for _, c := range m.emailChanges {
		if strings.EqualFold(c.OldEmail, email) && c.UserID != except && c.UsedAt.IsZero() && now.Before(c.ExpiresAt) {
			return true, nil
		}
	}
	return false, nil
}

// Of implements user.EmailChanges.
func (m memoryEmailChanges) Of(_ context.Context, userID uuid.UUID) ([]user.EmailChange, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	var out []user.EmailChange
	for _, c := range m.emailChanges {
		if c.UserID == userID {
			c.Hash = bytes.Clone(c.Hash)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b user.EmailChange) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.Hash, b.Hash)
	})
	return out, nil
}
