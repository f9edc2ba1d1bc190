package usertest

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// ListUsers implements user.AdminRepository.
func (m *Memory) ListUsers(_ context.Context, q user.ListQuery) ([]user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var found []user.User
	for _, u := range m.users {
		if matches(u, q) {
			found = append(found, u)
		}
	}
	slices.SortFunc(found, func(a, b user.User) int {
		switch {
		case a.Key().Less(b.Key()):
			return -1
		case b.Key().Less(a.Key()):
			return 1
		}
		return 0
	})
	if len(found) > q.Limit {
		found = found[:q.Limit]
	}
	return found, nil
}

// matches reports whether u is in the listing q asks for.
func matches(u user.User, q user.ListQuery) bool {
	hasPrefix := func(s, prefix string) bool { return strings.HasPrefix(strings.ToLower(s), strings.ToLower(prefix)) }
	switch {
	case !hasPrefix(u.Email, q.EmailPrefix), !hasPrefix(u.Username, q.UsernamePrefix):
		return false
	case q.IsActive != nil && u.IsActive != *q.IsActive, q.Role != nil && u.Role != *q.Role:
		return false
	case !q.CreatedAfter.IsZero() && !u.CreatedAt.After(q.CreatedAfter):
		return false
	case !q.CreatedBefore.IsZero() && !u.CreatedAt.Before(q.CreatedBefore):
		return false
	case q.After != nil && !q.After.Less(u.Key()):
		return false
	}
	return true
}

// UpdateKeepingAdmin implements user.AdminRepository.
func (m *Memory) UpdateKeepingAdmin(ctx context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	if p.RemovesAdmin() {
		// Update's change runs under the lock, so the check and the change
		// are one step.
		return m.update(id, p, func() error { return m.lastAdmin(id) })
	}
	return m.Update(ctx, id, p)
}

// DeleteKeepingAdmin implements user.AdminRepository.
func (m *Memory) DeleteKeepingAdmin(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[id]; !ok {
		return user.ErrNotFound
	}
	if err := m.lastAdmin(id); err != nil {
		return err
	}
	delete(m.users, id)
	m.deleteSessions(id)
	return nil
}

// lastAdmin returns ErrLastAdmin when id is the only active administrator.
// The caller holds the lock.
func (m *Memory) lastAdmin(id uuid.UUID) error {
	if u := m.users[id]; !u.IsAdmin() || !u.IsActive {
		return nil
	}
	for _, o := range m.users {
		if o.ID != id && o.IsAdmin() && o.IsActive {
			return nil
		}
	}
	return user.ErrLastAdmin
}
