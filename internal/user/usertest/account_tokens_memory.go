package usertest

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryAccountTokens is Memory's account-token half; Memory's lock guards
// it. A token whose user is gone counts as deleted, as the stores' foreign
// keys delete it.
type memoryAccountTokens struct {
	accountTokens map[string]user.AccountToken // by string(hash)
}

// liveToken returns the token of hash if its user still exists. The caller
// holds the lock.
func (m *Memory) liveToken(hash []byte) (user.AccountToken, bool) {
	t, ok := m.accountTokens[string(hash)]
	if !ok {
		return user.AccountToken{}, false
	}
	if _, ok := m.users[t.UserID]; !ok {
		return user.AccountToken{}, false
	}
	return t, true
}

// CreateAccountToken implements user.AccountTokenRepository.
func (m *Memory) CreateAccountToken(_ context.Context, t user.AccountToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[t.UserID]; !ok {
		return errForeignKey
	}
	if m.accountTokens == nil {
		m.accountTokens = map[string]user.AccountToken{}
	}
	t.Hash = bytes.Clone(t.Hash)
	m.accountTokens[string(t.Hash)] = t
	return nil
}

// AccountToken implements user.AccountTokenRepository.
func (m *Memory) AccountToken(_ context.Context, hash []byte) (user.AccountToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.AccountToken{}, m.fail
	}
	t, ok := m.liveToken(hash)
	if !ok {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, nil
}

// useToken marks the usable token of hash and purpose used at now and
// returns it. The caller holds the lock.
func (m *Memory) useToken(hash []byte, purpose user.TokenPurpose, now time.Time) (user.AccountToken, error) {
	t, ok := m.liveToken(hash)
	if !ok || t.Purpose != purpose || !t.Usable(now) {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	t.UsedAt = now
	m.accountTokens[string(hash)] = t
	return t, nil
}

// UseVerifyEmailToken implements user.AccountTokenRepository.
func (m *Memory) UseVerifyEmailToken(_ context.Context, hash []byte, now time.Time) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	t, err := m.useToken(hash, user.PurposeVerifyEmail, now)
	if err != nil {
		return user.User{}, err
	}
	u := m.users[t.UserID]
	if !strings.EqualFold(u.Email, t.Email) {
		return user.User{}, user.ErrEmailChanged
	}
	if !u.EmailVerified {
		u.EmailVerified = true
		u.UpdatedAt = later(u.UpdatedAt)
		m.users[u.ID] = u
	}
	return u, nil
}

// UseResetPasswordToken implements user.AccountTokenRepository.
func (m *Memory) UseResetPasswordToken(_ context.Context, hash []byte, passwordHash string, now time.Time) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	t, err := m.useToken(hash, user.PurposeResetPassword, now)
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
	m.revokeAll(u.ID, now)
	return u, nil
}

// revokeAll marks every session of userID not yet revoked revoked at at.
// The caller holds the lock.
func (m *Memory) revokeAll(userID uuid.UUID, at time.Time) {
	for id, s := range m.sessions {
		if s.UserID == userID && s.RevokedAt.IsZero() {
			s.RevokedAt = at
			m.sessions[id] = s
		}
	}
}

// later is now, or just after prev when the clock has not moved past it.
func later(prev time.Time) time.Time {
	now := time.Now().UTC()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}

var _ user.AccountTokenRepository = (*Memory)(nil)
