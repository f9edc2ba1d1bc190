package postgres

import (
	"context"

	"github.com/google/uuid"
)

// RehashPassword swaps old for hash when old is still the stored hash. The
// token version stays: the password itself did not change.
func (s *Users) RehashPassword(ctx context.Context, id uuid.UUID, old, hash string) error {
	const q = `UPDATE users SET hashed_password = $3 WHERE id = $1 AND hashed_password = $2`
	if _, err := s.q.Exec(ctx, q, id, old, hash); err != nil {
		return translate(err, "rehash password")
	}
	return nil
}
