package usertest

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memorySessions is Memory's session half; Memory's lock guards it.
type memorySessions struct {
	sessions map[uuid.UUID]user.Session
	tokens   map[string]user.RefreshToken // by string(hash)
}

func (m *Memory) initSessions() {
	if m.sessions == nil {
		m.sessions = map[uuid.UUID]user.Session{}
		m.tokens = map[string]user.RefreshToken{}
	}
}

// CreateSession implements user.SessionRepository.
func (m *Memory) CreateSession(_ context.Context, s user.Session, t user.RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[s.UserID]; !ok {
		return errForeignKey
	}
	m.sessions[s.ID] = s
	t.Hash = bytes.Clone(t.Hash)
	m.tokens[string(t.Hash)] = t
	return nil
}

// Session implements user.SessionRepository.
func (m *Memory) Session(_ context.Context, userID, id uuid.UUID) (user.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.Session{}, m.fail
	}
	s, ok := m.sessions[id]
	if !ok || s.UserID != userID {
		return user.Session{}, user.ErrSessionNotFound
	}
	return s, nil
}

// ActiveSessions implements user.SessionRepository.
func (m *Memory) ActiveSessions(_ context.Context, userID uuid.UUID, now time.Time) ([]user.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var all []user.Session
	for _, s := range m.sessions {
		if s.UserID == userID && s.Active(now) {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b user.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return all, nil
}

// RevokeSession implements user.SessionRepository.
func (m *Memory) RevokeSession(_ context.Context, userID, id uuid.UUID, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	s, ok := m.sessions[id]
	if !ok || s.UserID != userID || !s.RevokedAt.IsZero() {
		return user.ErrSessionNotFound
	}
	s.RevokedAt = at
	m.sessions[id] = s
	return nil
}

// RevokeSessions implements user.SessionRepository.
func (m *Memory) RevokeSessions(_ context.Context, userID, except uuid.UUID, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for id, s := range m.sessions {
		if s.UserID == userID && id != except && s.RevokedAt.IsZero() {
			s.RevokedAt = at
			m.sessions[id] = s
		}
	}
	return nil
}

// RefreshToken implements user.SessionRepository.
func (m *Memory) RefreshToken(_ context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.RefreshToken{}, user.Session{}, m.fail
	}
	t, ok := m.tokens[string(hash)]
	if !ok {
		return user.RefreshToken{}, user.Session{}, user.ErrSessionNotFound
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, m.sessions[t.SessionID], nil
}

// AddRefreshToken implements user.SessionRepository.
func (m *Memory) AddRefreshToken(_ context.Context, t user.RefreshToken, replaces []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	s, ok := m.sessions[t.SessionID]
	if !ok {
		return errForeignKey
	}
	if replaces != nil {
		old, ok := m.tokens[string(replaces)]
		if !ok || !old.UsedAt.IsZero() {
			return user.ErrRefreshTokenUsed
		}
		old.UsedAt = t.CreatedAt
		m.tokens[string(replaces)] = old
	}
	t.Hash = bytes.Clone(t.Hash)
	m.tokens[string(t.Hash)] = t
	s.LastUsedAt = t.CreatedAt
	m.sessions[s.ID] = s
	return nil
}

// Deactivate implements user.SessionRepository.
func (m *Memory) Deactivate(_ context.Context, id uuid.UUID) error {
	_, err := m.modify(id, func(u *user.User) error { u.IsActive = false; return nil })
	return err
}

// deleteSessions removes the sessions and tokens of user id, as the
// stores' foreign keys do. The caller holds the lock.
func (m *Memory) deleteSessions(id uuid.UUID) {
	for sid, s := range m.sessions {
		if s.UserID == id {
			delete(m.sessions, sid)
		}
	}
	for h, t := range m.tokens {
		if _, ok := m.sessions[t.SessionID]; !ok {
			delete(m.tokens, h)
		}
	}
}
