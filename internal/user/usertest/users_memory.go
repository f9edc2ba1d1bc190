package usertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memoryUsers is Memory's user.Users.
type memoryUsers struct{ memoryConn }

var _ user.Users = memoryUsers{}

// Create implements user.Users.
func (m memoryUsers) Create(_ context.Context, u user.User) (user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.User{}, err
	}
	if err := m.conflict(u.ID, u.Email, u.Username); err != nil {
		return user.User{}, err
	}
	now := time.Now().UTC()
	u.IsActive, u.TokenVersion, u.CreatedAt, u.UpdatedAt = true, 0, now, now
	u.TrustedEmail = u.Email
	if u.Role == "" {
		u.Role = user.RoleUser
	}
	if !u.Role.Valid() {
		return user.User{}, fmt.Errorf("create user: unknown role %q", u.Role)
	}
	m.users[u.ID] = u
	return u, nil
}

// conflict reports whether another user than id has email or username,
// ignoring letter case; a taken email wins over a taken username, as in the
// stores. An empty username is never taken. The caller holds the lock.
func (m *Memory) conflict(id uuid.UUID, email, username string) error {
	for _, o := range m.users {
		if o.ID != id && strings.EqualFold(o.Email, email) {
			return user.ErrEmailTaken
		}
	}
	for _, o := range m.users {
		if o.ID != id && username != "" && strings.EqualFold(o.Username, username) {
			return user.ErrUsernameTaken
		}
	}
	return nil
}

// ByID implements user.Users; it runs the SetAfterByID hook.
func (m memoryUsers) ByID(_ context.Context, id uuid.UUID) (user.User, error) {
	m.lock()
	u, ok := m.users[id]
	m.unlock()
	after, fail := m.hooked()
	if fail != nil {
		return user.User{}, fail
	}
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	if after != nil {
		after(u)
	}
	return u, nil
}

// ByEmail implements user.Users.
func (m memoryUsers) ByEmail(_ context.Context, email string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Email, email) })
}

// ByUsername implements user.Users.
func (m memoryUsers) ByUsername(_ context.Context, username string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Username, username) })
}

func (m memoryUsers) find(match func(user.User) bool) (user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.User{}, err
	}
	for _, u := range m.users {
		if match(u) {
			return u, nil
		}
	}
	return user.User{}, user.ErrNotFound
}

// Update implements user.Users. The last-administrator check runs under
// the lock with the change, so the two are one step.
func (m memoryUsers) Update(_ context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	return m.modify(id, func(u *user.User) error {
		if p.RemovesAdmin() {
			if err := m.lastAdmin(id); err != nil {
				return err
			}
		}
		if p.Email != nil {
			if err := m.conflict(id, *p.Email, ""); err != nil {
				return err
			}
			if !strings.EqualFold(u.Email, *p.Email) {
				u.EmailVerified = false // the trusted address stays
			}
			u.Email = *p.Email
		}
		if p.EmailVerified != nil && *p.EmailVerified {
			u.EmailVerified, u.TrustedEmail = true, u.Email
		}
		if p.FullName != nil {
			u.FullName = *p.FullName
		}
		if p.IsActive != nil {
			u.IsActive = *p.IsActive
		}
		if p.Role != nil {
			if !p.Role.Valid() {
				return fmt.Errorf("update user: unknown role %q", *p.Role)
			}
			u.Role = *p.Role
		}
		return nil
	})
}

// Delete implements user.Users.
func (m memoryUsers) Delete(_ context.Context, id uuid.UUID) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[id]; !ok {
		return user.ErrNotFound
	}
	if err := m.lastAdmin(id); err != nil {
		return err
	}
	m.deleteUser(id)
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

// SetPassword implements user.Users.
func (m memoryUsers) SetPassword(_ context.Context, id uuid.UUID, hash string) error {
	_, err := m.modify(id, func(u *user.User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		return nil
	})
	return err
}

// errUnchanged tells modify to leave the user as it is, without an error.
var errUnchanged = errors.New("unchanged")

// RehashPassword implements user.Users.
func (m memoryUsers) RehashPassword(_ context.Context, id uuid.UUID, old, hash string) error {
	_, err := m.modify(id, func(u *user.User) error {
		if u.PasswordHash != old {
			return errUnchanged
		}
		u.PasswordHash = hash
		return nil
	})
	if errors.Is(err, user.ErrNotFound) || errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// List implements user.Users.
func (m memoryUsers) List(_ context.Context, q user.ListQuery) ([]user.User, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return nil, err
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
	case q.Search != "" && !strings.Contains(user.SearchText(u.Email, u.Username, u.FullName), user.SearchPattern(q.Search)):
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
