package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// EmailChanges is the SQLite user.EmailChanges.
type EmailChanges struct{ conn }

var _ user.EmailChanges = (*EmailChanges)(nil)

// Create stores c.
func (s *EmailChanges) Create(ctx context.Context, c user.EmailChange) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		INSERT INTO email_changes (hash, user_id, old_email, new_email, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := s.exec(ctx, q, c.Hash, c.UserID, c.OldEmail, c.NewEmail, ts(c.CreatedAt), ts(c.ExpiresAt)); err != nil {
		return translate(err, "create email change")
	}
	return nil
}

// Use marks the usable change of hash used at now and returns it, in one
// statement on the single writer: of concurrent uses, one wins.
func (s *EmailChanges) Use(ctx context.Context, hash []byte, now time.Time) (user.EmailChange, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		UPDATE email_changes SET used_at = ?1
		WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1
		RETURNING hash, user_id, old_email, new_email, created_at, expires_at, used_at`
	var (
		c                  user.EmailChange
		created, exp, used string
	)
	err := s.writeRow(ctx, q, ts(now), hash).Scan(&c.Hash, &c.UserID, &c.OldEmail, &c.NewEmail, &created, &exp, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return user.EmailChange{}, user.ErrInvalidToken
	}
	if err != nil {
		return user.EmailChange{}, translate(err, "use email change")
	}
	if err := errors.Join(parseTS(created, &c.CreatedAt), parseTS(exp, &c.ExpiresAt), parseTS(used, &c.UsedAt)); err != nil {
		return user.EmailChange{}, fmt.Errorf("use email change: %w", err)
	}
	return c, nil
}

// UseAfter marks every unused change of userID made after after used
// at now.
func (s *EmailChanges) UseAfter(ctx context.Context, userID uuid.UUID, after, now time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE email_changes SET used_at = ? WHERE user_id = ? AND used_at IS NULL AND created_at > ?`
	if _, err := s.exec(ctx, q, ts(now), userID, ts(after)); err != nil {
		return translate(err, "use email changes")
	}
	return nil
}

// Undoable returns the old address of userID's earliest change usable at
// now, "" when there is none.
func (s *EmailChanges) Undoable(ctx context.Context, userID uuid.UUID, now time.Time) (string, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		SELECT old_email FROM email_changes
		WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2
		ORDER BY created_at LIMIT 1`
	var old string
	err := s.readRow(ctx, q, userID, ts(now)).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
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
		WHERE lower(old_email) = lower(?1) AND user_id <> ?2
		  AND used_at IS NULL AND expires_at > ?3)`

// Held reports whether an account other than except has a usable change
// away from email.
func (s *EmailChanges) Held(ctx context.Context, email string, except uuid.UUID, now time.Time) (bool, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var held bool
	if err := s.readRow(ctx, heldQuery, email, except, ts(now)).Scan(&held); err != nil {
		return false, translate(err, "held email")
	}
	return held, nil
}

// Of returns userID's changes, oldest first.
func (s *EmailChanges) Of(ctx context.Context, userID uuid.UUID) ([]user.EmailChange, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		SELECT hash, user_id, old_email, new_email, created_at, expires_at, used_at
		FROM email_changes WHERE user_id = ? ORDER BY created_at, hash`
	rows, err := s.readRows(ctx, q, userID)
	if err != nil {
		return nil, translate(err, "list email changes")
	}
	defer rows.Close()
	var all []user.EmailChange
	for rows.Next() {
		var (
			c            user.EmailChange
			created, exp string
			used         sql.NullString
		)
		if err := rows.Scan(&c.Hash, &c.UserID, &c.OldEmail, &c.NewEmail, &created, &exp, &used); err != nil {
			return nil, translate(err, "list email changes")
		}
		if err := errors.Join(parseTS(created, &c.CreatedAt), parseTS(exp, &c.ExpiresAt), parseTS(used.String, &c.UsedAt)); err != nil {
			return nil, fmt.Errorf("list email changes: %w", err)
		}
		all = append(all, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list email changes")
	}
	return all, nil
}
