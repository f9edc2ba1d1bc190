package user_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/usersvc/usersvc/internal/user"
)

// fakeRepo is an in-memory user.Repository with the stores' uniqueness
// rules, for service tests. err, when set, is returned by every call.
type fakeRepo struct {
	mu    sync.Mutex
	users map[uuid.UUID]user.User
	err   error
}

func newFakeRepo() *fakeRepo { return &fakeRepo{users: map[uuid.UUID]user.User{}} }

func (f *fakeRepo) Create(_ context.Context, u user.User) (user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return user.User{}, f.err
	}
	if err := f.conflict(u.ID, u.Email, u.Username); err != nil {
		return user.User{}, err
	}
	u.IsActive, u.CreatedAt, u.UpdatedAt = true, time.Now(), time.Now()
	f.users[u.ID] = u
	return u, nil
}

func (f *fakeRepo) conflict(id uuid.UUID, email, username string) error {
	for _, o := range f.users {
		if o.ID == id {
			continue
		}
		if strings.EqualFold(o.Email, email) {
			return user.ErrEmailTaken
		}
		if strings.EqualFold(o.Username, username) {
			return user.ErrUsernameTaken
		}
	}
	return nil
}

func (f *fakeRepo) find(match func(user.User) bool) (user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return user.User{}, f.err
	}
	for _, u := range f.users {
		if match(u) {
			return u, nil
		}
	}
	return user.User{}, user.ErrNotFound
}

func (f *fakeRepo) ByID(_ context.Context, id uuid.UUID) (user.User, error) {
	return f.find(func(u user.User) bool { return u.ID == id })
}

func (f *fakeRepo) ByEmail(_ context.Context, email string) (user.User, error) {
	return f.find(func(u user.User) bool { return strings.EqualFold(u.Email, email) })
}

func (f *fakeRepo) ByUsername(_ context.Context, name string) (user.User, error) {
	return f.find(func(u user.User) bool { return strings.EqualFold(u.Username, name) })
}

func (f *fakeRepo) modify(id uuid.UUID, change func(*user.User) error) (user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return user.User{}, f.err
	}
	u, ok := f.users[id]
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	if err := change(&u); err != nil {
		return user.User{}, err
	}
	u.UpdatedAt = time.Now()
	f.users[id] = u
	return u, nil
}

func (f *fakeRepo) Update(_ context.Context, id uuid.UUID, p user.Patch) (user.User, error) {
	return f.modify(id, func(u *user.User) error {
		if p.Email != nil {
			if err := f.conflict(id, *p.Email, ""); err != nil {
				return err
			}
			u.Email = *p.Email
		}
		if p.FullName != nil {
			u.FullName = *p.FullName
		}
		return nil
	})
}

func (f *fakeRepo) SetPassword(_ context.Context, id uuid.UUID, hash string) error {
	_, err := f.modify(id, func(u *user.User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		return nil
	})
	return err
}

// setActive is what an administrator will do; the fake lets tests do it now.
func (f *fakeRepo) setActive(id uuid.UUID, active bool) {
	_, _ = f.modify(id, func(u *user.User) error { u.IsActive = active; return nil })
}

func (f *fakeRepo) Delete(_ context.Context, id uuid.UUID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.users[id]; !ok {
		return user.ErrNotFound
	}
	delete(f.users, id)
	return nil
}

func (f *fakeRepo) Ping(context.Context) error { return f.err }

var errDown = errors.New("database is down")
