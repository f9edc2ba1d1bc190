package sqlite

import (
	"context"

	"github.com/google/uuid"
)

// RehashPassword swaps old for hash when old is still the stored hash. The
// token version stays: the password itself did not change. updated_at
// moves, as the PostgreSQL trigger moves it on every row change.
func (s *Users) RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error {
	const q = `
		UPDATE users SET hashed_password = ?, updated_at = ` + nextUpdatedAt + `
		WHERE id = ? AND hashed_password = ?`
	if _, err := s.exec(ctx, q, hash, id, old); err != nil {
		return translate(err, "rehash password")
	}
	return nil
}
