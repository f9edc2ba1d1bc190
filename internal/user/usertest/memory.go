package usertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Memory is an in-memory user.Repository with the stores' rules (it passes
// Run), for tests of the layers above the stores and for the cases a real
// store cannot set up: an inactive account, a user deleted mid-request, a
// failing database. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	users map[uuid.UUID]user.User
	fail  error
	// afterByID, when set, runs after each successful ByID, unlocked.
	afterByID func(user.User)
	memorySessions
	memoryAudit
	memoryAccountTokens
}

// errForeignKey is a session or token stored for a missing user or
// session, which the stores' foreign keys refuse.
var errForeignKey = errors.New("usertest: foreign key violation")

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	m := &Memory{users: map[uuid.UUID]user.User{}}
	m.initSessions()
	return m
}

// SetFail makes every method return err from now on; nil makes them work
// again.
func (m *Memory) SetFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// SetAfterByID makes f run after each successful ByID, with the user found,
// outside the lock, so f may call m.
func (m *Memory) SetAfterByID(f func(user.User)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.afterByID = f
}

// SetActive marks the user id active or not, which no store offers yet. It
// does nothing when the user is missing or m fails.
func (m *Memory) SetActive(id uuid.UUID, active bool) {
	_, _ = m.modify(id, func(u *user.User) error { u.IsActive = active; return nil })
}

// Len reports how many users m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users)
}

// Create implements user.Repository.
func (m *Memory) Create(_ context.Context, u user.User) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	if err := m.conflict(u.ID, u.Email, u.Username); err != nil {
		return user.User{}, err
	}
	now := time.Now().UTC()
	u.IsActive, u.TokenVersion, u.CreatedAt, u.UpdatedAt = true, 0, now, now
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
// stores. An empty username is never taken.
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

// ByID implements user.Repository.
func (m *Memory) ByID(_ context.Context, id uuid.UUID) (user.User, error) {
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

// ByEmail implements user.Repository.
func (m *Memory) ByEmail(_ context.Context, email string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Email, email) })
}

// ByUsername implements user.Repository.
func (m *Memory) ByUsername(_ context.Context, username string) (user.User, error) {
	return m.find(func(u user.User) bool { return strings.EqualFold(u.Username, username) })
}

func (m *Memory) find(match func(user.User) bool) (user.User, error) {
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

// Update implements user.Repository.
func (m *Memory) Update(_ context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	return m.update(id, p, func() error { return nil })
}

// update is Update after check, which runs under the lock.
func (m *Memory) update(id uuid.UUID, p user.Patch, check func() error) (user.User, error) {
	return m.modify(id, func(u *user.User) error {
		if err := check(); err != nil {
			return err
		}
		if p.Email != nil {
			if err := m.conflict(id, *p.Email, ""); err != nil {
				return err
			}
			if !strings.EqualFold(u.Email, *p.Email) {
				u.EmailVerified = false
			}
			u.Email = *p.Email
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

// SetPassword implements user.Repository.
func (m *Memory) SetPassword(_ context.Context, id uuid.UUID, hash string) error {
	_, err := m.modify(id, func(u *user.User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		return nil
	})
	return err
}

// errUnchanged tells modify to leave the user as it is, without an error.
var errUnchanged = errors.New("unchanged")

// RehashPassword implements user.Repository.
func (m *Memory) RehashPassword(_ context.Context, id uuid.UUID, old, hash string) error {
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

// modify applies change to the user id under the lock and moves its
// UpdatedAt on, always forward even if the clock has not ticked.
func (m *Memory) modify(id uuid.UUID, change func(*user.User) error) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return user.User{}, m.fail
	}
	u, ok := m.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	if err := change(&u); err != nil {
		return user.User{}, err
	}
	now := time.Now().UTC()
	if !now.After(u.UpdatedAt) {
		now = u.UpdatedAt.Add(time.Microsecond)
	}
	u.UpdatedAt = now
	m.users[id] = u
	return u, nil
}

// Delete implements user.Repository.
func (m *Memory) Delete(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[id]; !ok {
		return user.ErrNotFound
	}
	delete(m.users, id)
	m.deleteSessions(id)
	return nil
}

// Ping implements user.Repository: it fails only when SetFail says so.
func (m *Memory) Ping(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail
}

var _ user.Repository = (*Memory)(nil)
