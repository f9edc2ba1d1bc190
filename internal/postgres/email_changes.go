package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// EmailChanges is the PostgreSQL user.EmailChanges.
type EmailChanges struct{ conn }

var _ user.EmailChanges = (*EmailChanges)(nil)

// Create stores c.
func (s *EmailChanges) Create(ctx context.Context, c user.EmailChange) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO email_changes (hash, user_id, old_email, new_email, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := s.q.Exec(ctx, q, c.Hash, c.UserID, c.OldEmail, c.NewEmail, c.CreatedAt, c.ExpiresAt); err != nil {
		return translate(err, "create email change")
	}
	return nil
}

// Use marks the usable change of hash used at now and returns it, in one
// statement: of concurrent uses, the first to lock the row wins.
func (s *EmailChanges) Use(ctx context.Context, hash []byte, now time.Time) (user.EmailChange, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE email_changes SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING hash, user_id, old_email, new_email, created_at, expires_at, used_at`
	var c user.EmailChange
	err := s.q.QueryRow(ctx, q, hash, now).Scan(&c.Hash, &c.UserID, &c.OldEmail, &c.NewEmail, &c.CreatedAt, &c.ExpiresAt, &c.UsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.EmailChange{}, user.ErrInvalidToken
	}
	if err != nil {
		return user.EmailChange{}, translate(err, "use email change")
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), c.UsedAt.UTC()
	return c, nil
}

// UseAfter marks every unused change of userID made after after used
// at now.
func (s *EmailChanges) UseAfter(ctx context.Context, userID uuid.UUID, after, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL AND created_at > $3`
	if _, err := s.q.Exec(ctx, q, userID, now, after); err != nil {
		return translate(err, "use email changes")
	}
	return nil
}

// Undoable returns the old address of userID's earliest change usable at
// now, "" when there is none.
func (s *EmailChanges) Undoable(ctx context.Context, userID uuid.UUID, now time.Time) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT old_email FROM email_changes
		WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2
		ORDER BY created_at LIMIT 1`
	var old string
	err := s.q.QueryRow(ctx, q, userID, now).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", translate(err, "undoable email change")
	}
	return old, nil
}

// heldQuery is Held's statement: it reads email_changes_held (00033), the
// changes not undone yet by their old address.
const heldQuery = `
	SELECT EXISTS (
		SELECT 1 FROM email_changes
		WHERE lower(old_email) = lower($1) AND user_id <> $2
		  AND used_at IS NULL AND expires_at > $3)`

// Held reports whether an account other than except has a usable change
// away from email.
func (s *EmailChanges) Held(ctx context.Context, email string, except uuid.UUID, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var held bool
	if err := s.q.QueryRow(ctx, heldQuery, email, except, now).Scan(&held); err != nil {
		return false, translate(err, "held email")
	}
	return held, nil
}

// Of returns userID's changes, oldest first.
func (s *EmailChanges) Of(ctx context.Context, userID uuid.UUID) ([]user.EmailChange, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT hash, user_id, old_email, new_email, created_at, expires_at, used_at
		FROM email_changes WHERE user_id = $1 ORDER BY created_at, hash`
	rows, err := s.q.Query(ctx, q, userID)
	if err != nil {
		return nil, translate(err, "list email changes")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.EmailChange, error) {
		var (
			c    user.EmailChange
			used *time.Time
		)
		err := r.Scan(&c.Hash, &c.UserID, &c.OldEmail, &c.NewEmail, &c.CreatedAt, &c.ExpiresAt, &used)
		c.CreatedAt, c.ExpiresAt, c.UsedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), utc(used)
		return c, err
	})
	if err != nil {
		return nil, translate(err, "list email changes")
	}
	return all, nil
}
