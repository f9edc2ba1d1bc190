package httpapi_test

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

func (m *memUsers) RehashPassword(_ context.Context, id uuid.UUID, old, hash string) error {
	_, err := m.change(id, func(u *user.User) error {
		if u.PasswordHash == old {
			u.PasswordHash = hash
		}
		return nil
	})
	if errors.Is(err, user.ErrNotFound) {
		return nil
	}
	return err
}
