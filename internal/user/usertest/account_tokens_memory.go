package usertest

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryAccountTokens is Memory's user.AccountTokens.
type memoryAccountTokens struct{ memoryConn }

var _ user.AccountTokens = memoryAccountTokens{}

// Create implements user.AccountTokens.
func (m memoryAccountTokens) Create(_ context.Context, t user.AccountToken) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[t.UserID]; !ok {
		return errForeignKey
	}
	t.Hash = bytes.Clone(t.Hash)
	m.accountTokens[string(t.Hash)] = t
	return nil
}

// ByHash implements user.AccountTokens.
func (m memoryAccountTokens) ByHash(_ context.Context, hash []byte) (user.AccountToken, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.AccountToken{}, err
	}
	t, ok := m.accountTokens[string(hash)]
	if !ok {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, nil
}

// use marks the usable token of hash and purpose used at now and returns
// it. The caller holds the lock.
func (m memoryAccountTokens) use(hash []byte, purpose user.TokenPurpose, now time.Time) (user.AccountToken, error) {
	t, ok := m.accountTokens[string(hash)]
	if !ok || t.Purpose != purpose || !t.Usable(now) {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	t.UsedAt = now
	m.accountTokens[string(hash)] = t
	return t, nil
}

// UseVerifyEmail implements user.AccountTokens.
func (m memoryAccountTokens) UseVerifyEmail(_ context.Context, hash []byte, now time.Time) (user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.User{}, err
	}
	t, err := m.use(hash, user.PurposeVerifyEmail, now)
	if err != nil {
		return user.User{}, err
	}
	u := m.users[t.UserID]
	if !strings.EqualFold(u.Email, t.Email) {
		return user.User{}, user.ErrEmailChanged
	}
	if !u.EmailVerified || u.TrustedEmail != u.Email {
		u.EmailVerified, u.TrustedEmail = true, u.Email
		u.UpdatedAt = later(u.UpdatedAt)
		m.users[u.ID] = u
	}
	return u, nil
}

// UseResetPassword implements user.AccountTokens.
func (m memoryAccountTokens) UseResetPassword(_ context.Context, hash []byte, passwordHash string, now time.Time) (user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.User{}, err
	}
	t, ok := m.accountTokens[string(hash)]
	if ok && t.TokenVersion != user.Unbound && t.TokenVersion != m.users[t.UserID].TokenVersion {
		return user.User{}, user.ErrInvalidToken // the password changed since
	}
	t, err := m.use(hash, user.PurposeResetPassword, now)
	if err != nil {
		return user.User{}, err
	}
	u := m.users[t.UserID]
	u.PasswordHash, u.TokenVersion, u.UpdatedAt = passwordHash, u.TokenVersion+1, later(u.UpdatedAt)
	m.users[u.ID] = u
	for h, o := range m.accountTokens {
		if o.UserID == u.ID && o.Purpose == user.PurposeResetPassword && o.UsedAt.IsZero() {
			o.UsedAt = now
			m.accountTokens[h] = o
		}
	}
	m.revokeAll(u.ID, uuid.Nil, now)
	return u, nil
}

// UseAll implements user.AccountTokens.
func (m memoryAccountTokens) UseAll(_ context.Context, userID uuid.UUID, purpose user.TokenPurpose, now time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	for h, t := range m.accountTokens {
		if t.UserID == userID && (purpose == "" || t.Purpose == purpose) && t.UsedAt.IsZero() {
			t.UsedAt = now
			m.accountTokens[h] = t
		}
	}
	return nil
}

// Pending implements user.AccountTokens.
func (m memoryAccountTokens) Pending(_ context.Context, userID uuid.UUID, now time.Time) ([]user.AccountToken, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	var out []user.AccountToken
	for _, t := range m.accountTokens {
		if t.UserID == userID && t.Usable(now) {
			t.Hash = bytes.Clone(t.Hash)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b user.AccountToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.Hash, b.Hash))
	})
	return out, nil
}
