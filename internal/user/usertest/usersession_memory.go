package usertest

import (
	"context"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// UserSession implements user.SessionRepository. Like ByID, it runs the
// SetAfterByID hook after a successful lookup: it is the lookup that
// authenticates a request.
func (m *Memory) UserSession(_ context.Context, userID, sessionID uuid.UUID) (user.User, user.Session, error) {
	m.mu.Lock()
	u, ok := m.users[userID]
	s, found := m.sessions[sessionID]
	fail, after := m.fail, m.afterByID
	m.mu.Unlock()
	if fail != nil {
		return user.User{}, user.Session{}, fail
	}
	if !ok || !found || s.UserID != userID {
		return user.User{}, user.Session{}, user.ErrNotFound
	}
	if after != nil {
		after(u)
	}
	u.PasswordHash = "" // what the stores leave out
	return u, user.Session{ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt}, nil
}
