package httpapi_test

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// memUsers is an in-memory user.Repository for the cases the real stores
// cannot set up: an inactive account, a user deleted mid-request, a failing
// database.
type memUsers struct {
	mu    sync.Mutex
	users map[uuid.UUID]user.User
	// fail, when set, is returned by every method.
	fail error
	// afterByID, when set, runs after each successful ByID.
	afterByID func(user.User)
}

func newMemUsers() *memUsers { return &memUsers{users: map[uuid.UUID]user.User{}} }

func (m *memUsers) Create(_ context.Context, u user.User) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	for _, o := range m.users {
		if strings.EqualFold(o.Email, u.Email) {
			return user.User{}, user.ErrEmailTaken
		}
		if strings.EqualFold(o.Username, u.Username) {
			return user.User{}, user.ErrUsernameTaken
		}
	}
	now := time.Now()
	u.IsActive, u.CreatedAt, u.UpdatedAt = true, now, now
	m.users[u.ID] = u
	return u, nil
}

func (m *memUsers) ByID(_ context.Context, id uuid.UUID) (user.User, error) {
	m.mu.Lock()
	u, ok := m.users[id]
	fail, after := m.fail, m.afterByID
	m.mu.Unlock()
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

func (m *memUsers) find(match func(user.User) bool) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	for _, u := range m.users {
		if match(u) {
			return u, nil
		}
	}
	return user.User{}, user.ErrNotFound
}

func (m *memUsers) ByEmail(_ context.Context, email string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Email, email) })
}

func (m *memUsers) ByUsername(_ context.Context, username string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Username, username) })
}

func (m *memUsers) Update(_ context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	return m.change(id, func(u *user.User) error {
		if p.Email != nil {
			for _, o := range m.users {
				if o.ID != id && strings.EqualFold(o.Email, *p.Email) {
					return user.ErrEmailTaken
				}
			}
			u.Email = *p.Email
		}
		if p.FullName != nil {
			u.FullName = *p.FullName
		}
		return nil
	})
}

func (m *memUsers) SetPassword(_ context.Context, id uuid.UUID, hash string) error {
	_, err := m.change(id, func(u *user.User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		return nil
	})
	return err
}

// deactivate is what no store offers yet.
func (m *memUsers) deactivate(id uuid.UUID) {
	_, _ = m.change(id, func(u *user.User) error { u.IsActive = false; return nil })
}

func (m *memUsers) change(id uuid.UUID, f func(*user.User) error) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	u, ok := m.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	if err := f(&u); err != nil {
		return user.User{}, err
	}
	u.UpdatedAt = time.Now()
	m.users[id] = u
	return u, nil
}

func (m *memUsers) Delete(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[id]; !ok {
		return user.ErrNotFound
	}
	delete(m.users, id)
	return nil
}

func (m *memUsers) Ping(context.Context) error { return m.fail }

func (m *memUsers) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}
