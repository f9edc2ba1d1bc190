package usertest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memorySessions is Memory's user.Sessions.
type memorySessions struct{ memoryConn }

var _ user.Sessions = memorySessions{}

// Create implements user.Sessions.
func (m memorySessions) Create(_ context.Context, s user.Session, t user.RefreshToken) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[s.UserID]; !ok {
		return errForeignKey
	}
	if _, ok := m.refreshTokens[string(t.Hash)]; ok {
		return errDuplicateToken // a new session's first token is new
	}
	if s.AuthenticatedAt.IsZero() {
		s.AuthenticatedAt = s.CreatedAt
	}
	s.AMR = slices.Clone(s.AMR)
	m.sessions[s.ID] = s
	t.Hash = bytes.Clone(t.Hash)
	m.refreshTokens[string(t.Hash)] = t
	return nil
}

// UserSession implements user.Sessions. Like ByID, it runs the
// SetAfterByID hook after a successful lookup: it is the lookup that
// authenticates a request.
func (m memorySessions) UserSession(_ context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	m.lock()
	u, ok := m.users[userID]
	s, found := m.sessions[sessionID]
	m.unlock()
	after, fail := m.hooked()
	if fail != nil {
		return user.User{}, user.Session{}, fail
	}
	if !ok || !found || s.UserID != userID {
		return user.User{}, user.Session{}, user.ErrNotFound
	}
	if after != nil {
		after(u)
	}
	u.PasswordHash, u.TrustedEmail = "", "" // what the stores leave out
	return u, user.Session{ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, AuthenticatedAt: s.AuthenticatedAt,
		AMR: slices.Clone(s.AMR), ACR: s.ACR}, nil
}

// Active implements user.Sessions.
func (m memorySessions) Active(_ context.Context, userID uuid.UUID, now time.Time, page user.SessionPage) ([]user.Session, error) {
	all, err := m.list(userID, func(s user.Session) bool {
		return s.Active(now) && (page.After == nil || compareSession(s, page.After.CreatedAt, page.After.ID) > 0)
	})
	if page.Limit > 0 && len(all) > page.Limit {
		all = all[:page.Limit]
	}
	return all, err
}

// compareSession orders s against the key (createdAt, id) as the stores
// list sessions.
func compareSession(s user.Session, createdAt time.Time, id uuid.UUID) int {
	if c := s.CreatedAt.Compare(createdAt); c != 0 {
		return c
	}
	return bytes.Compare(s.ID[:], id[:])
}

// RevokeOldest implements user.Sessions.
func (m memorySessions) RevokeOldest(_ context.Context, userID uuid.UUID, keep int, now time.Time) ([]uuid.UUID, error) {
	live, err := m.list(userID, func(s user.Session) bool { return s.Active(now) })
	if err != nil || len(live) <= keep {
		return nil, err
	}
	m.lock()
	defer m.unlock()
	var ids []uuid.UUID
	for _, s := range live[:len(live)-keep] {
		s.RevokedAt = now
		m.sessions[s.ID] = s
		ids = append(ids, s.ID)
	}
	return ids, nil
}

// All implements user.Sessions.
func (m memorySessions) All(_ context.Context, userID uuid.UUID, page user.SessionPage) ([]user.Session, error) {
	all, err := m.list(userID, func(s user.Session) bool {
		return page.After == nil || compareSession(s, page.After.CreatedAt, page.After.ID) > 0
	})
	if page.Limit > 0 && len(all) > page.Limit {
		all = slices.Clone(all[:page.Limit]) // a page, not every session behind it
	}
	return all, err
}

// list returns the sessions of userID that keep selects, oldest first.
func (m memorySessions) list(userID uuid.UUID, keep func(user.Session) bool) ([]user.Session, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return nil, err
	}
	var all []user.Session
	for _, s := range m.sessions {
		if s.UserID == userID && keep(s) {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b user.Session) int { return compareSession(a, b.CreatedAt, b.ID) })
	return all, nil
}

// Revoke implements user.Sessions.
func (m memorySessions) Revoke(_ context.Context, userID, id uuid.UUID, at time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	s, ok := m.sessions[id]
	if !ok || s.UserID != userID || !s.RevokedAt.IsZero() {
		return user.ErrSessionNotFound
	}
	s.RevokedAt = at
	m.sessions[id] = s
	return nil
}

// RevokeAll implements user.Sessions.
func (m memorySessions) RevokeAll(_ context.Context, userID, except uuid.UUID, at time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	m.revokeAll(userID, except, at)
	return nil
}

// revokeAll marks every session of userID but except not yet revoked
// revoked at at. The caller holds the lock.
func (m *Memory) revokeAll(userID, except uuid.UUID, at time.Time) {
	for id, s := range m.sessions {
		if s.UserID == userID && id != except && s.RevokedAt.IsZero() {
			s.RevokedAt = at
			m.sessions[id] = s
		}
	}
}

// RefreshToken implements user.Sessions.
func (m memorySessions) RefreshToken(_ context.Context, hash []byte) (user.RefreshToken, user.Session, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.RefreshToken{}, user.Session{}, err
	}
	t, ok := m.refreshTokens[string(hash)]
	if !ok {
		return user.RefreshToken{}, user.Session{}, user.ErrSessionNotFound
	}
	t.Hash = bytes.Clone(t.Hash)
	return t, m.sessions[t.SessionID], nil
}

// AddRefreshToken implements user.Sessions.
func (m memorySessions) AddRefreshToken(_ context.Context, t user.RefreshToken, replaces []byte) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	s, ok := m.sessions[t.SessionID]
	if !ok {
		return errForeignKey
	}
	if have, ok := m.refreshTokens[string(t.Hash)]; ok && have.SessionID != t.SessionID {
		return errDuplicateToken // before anything changes, as in the stores' transaction
	}
	if replaces != nil {
		old, ok := m.refreshTokens[string(replaces)]
		if !ok || !old.UsedAt.IsZero() {
			return user.ErrRefreshTokenUsed
		}
		old.UsedAt = t.CreatedAt
		m.refreshTokens[string(replaces)] = old
	}
	if _, ok := m.refreshTokens[string(t.Hash)]; ok {
		return nil // the same successor, stored already
	}
	t.Hash = bytes.Clone(t.Hash)
	m.refreshTokens[string(t.Hash)] = t
	s.LastUsedAt = t.CreatedAt
	m.sessions[s.ID] = s
	return nil
}

// errDuplicateToken is a refresh token whose hash another session has,
// which the stores' primary key refuses.
var errDuplicateToken = errors.New("usertest: refresh token hash of another session")

// Reauthenticated implements user.Sessions.
func (m memorySessions) Reauthenticated(_ context.Context, userID, id uuid.UUID, at time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	s, ok := m.sessions[id]
	if !ok || s.UserID != userID || !s.RevokedAt.IsZero() {
		return user.ErrSessionNotFound
	}
	s.AuthenticatedAt = at
	m.sessions[id] = s
	return nil
}
