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

// AccountTokens is the SQLite user.AccountTokens.
type AccountTokens struct{ conn }

var _ user.AccountTokens = (*AccountTokens)(nil)

// Create stores t.
func (s *AccountTokens) Create(ctx context.Context, t user.AccountToken) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		INSERT INTO account_tokens (hash, user_id, purpose, email, created_at, expires_at, token_version)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	_, err := s.exec(ctx, q, t.Hash, t.UserID, string(t.Purpose), t.Email, ts(t.CreatedAt), ts(t.ExpiresAt), t.TokenVersion)
	if err != nil {
		return translate(err, "create account token")
	}
	return nil
}

// ByHash returns the token of that hash, used or not.
func (s *AccountTokens) ByHash(ctx context.Context, hash []byte) (user.AccountToken, error) {
	const q = `
		SELECT hash, user_id, purpose, email, created_at, expires_at, used_at, COALESCE(token_version, ?2)
		FROM account_tokens WHERE hash = ?1`
	var (
		t            user.AccountToken
		created, exp string
		used         sql.NullString
	)
	err := s.readRow(ctx, q, hash, user.Unbound).Scan(&t.Hash, &t.UserID, &t.Purpose, &t.Email, &created, &exp, &used, &t.TokenVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	if err != nil {
		return user.AccountToken{}, translate(err, "get account token")
	}
	if err := errors.Join(parseTS(created, &t.CreatedAt), parseTS(exp, &t.ExpiresAt), parseTS(used.String, &t.UsedAt)); err != nil {
		return user.AccountToken{}, fmt.Errorf("get account token: %w", err)
	}
	return t, nil
}

// useToken marks the usable token of hash and purpose used at now, in tx,
// and returns its user and the email it was sent to; ErrInvalidToken when
// there is no such token, or a reset token bound to a password the user
// no longer has (a NULL token_version, a token of the release before, or
// user.Unbound binds to none).
func useToken(ctx context.Context, tx *sql.Tx, hash []byte, purpose user.TokenPurpose, now time.Time) (uuid.UUID, string, error) {
	const q = `
		UPDATE account_tokens SET used_at = ?1
		WHERE hash = ?2 AND purpose = ?3 AND used_at IS NULL AND expires_at > ?1
		  AND (purpose <> 'reset_password'
		       OR COALESCE(token_version, ?4) IN (?4, (SELECT u.token_version FROM users u WHERE u.id = account_tokens.user_id)))
		RETURNING user_id, email`
	var (
		id    uuid.UUID
		email string
	)
	err := tx.QueryRowContext(ctx, q, ts(now), hash, string(purpose), user.Unbound).Scan(&id, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, "", user.ErrInvalidToken
	}
	return id, email, err
}

// UseVerifyEmail uses the verification token and verifies the email
// it was sent to, if still the user's, in one transaction.
func (s *AccountTokens) UseVerifyEmail(ctx context.Context, hash []byte, now time.Time) (user.User, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var (
		u       user.User
		changed bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		id, email, err := useToken(ctx, tx, hash, user.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		const q = `
			UPDATE users SET email_verified = 1, recovery_email = email, updated_at = ` + nextUpdatedAt + `
			WHERE id = ? AND lower(email) = lower(?)
			RETURNING ` + userColumns
		u, err = scanUser(tx.QueryRowContext(ctx, q, id, email))
		if errors.Is(err, sql.ErrNoRows) {
			changed = true // the token stays used: it can never verify again
			return nil
		}
		return err
	})
	switch {
	case errors.Is(err, user.ErrInvalidToken):
		return user.User{}, user.ErrInvalidToken
	case err != nil:
		return user.User{}, translate(err, "verify email")
	case changed:
		return user.User{}, user.ErrEmailChanged
	}
	return u, nil
}

// UseResetPassword uses the reset token, sets the password, uses up
// the user's other reset tokens and revokes their sessions, in one
// transaction.
func (s *AccountTokens) UseResetPassword(ctx context.Context, hash []byte, passwordHash string, now time.Time) (user.User, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var u user.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		id, _, err := useToken(ctx, tx, hash, user.PurposeResetPassword, now)
		if err != nil {
			return err
		}
		const setPassword = `
			UPDATE users
			SET hashed_password = ?, token_version = token_version + 1, updated_at = ` + nextUpdatedAt + `
			WHERE id = ?
			RETURNING ` + userColumns
		if u, err = scanUser(tx.QueryRowContext(ctx, setPassword, passwordHash, id)); err != nil {
			return err
		}
		const useOthers = `
			UPDATE account_tokens SET used_at = ?
			WHERE user_id = ? AND purpose = 'reset_password' AND used_at IS NULL`
		if _, err := tx.ExecContext(ctx, useOthers, ts(now), id); err != nil {
			return err
		}
		const revoke = `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`
		_, err = tx.ExecContext(ctx, revoke, ts(now), id)
		return err
	})
	if errors.Is(err, user.ErrInvalidToken) {
		return user.User{}, user.ErrInvalidToken
	}
	if err != nil {
		return user.User{}, translate(err, "reset password")
	}
	return u, nil
}

// UseAll marks every unused token of userID of purpose ("" for every
// purpose) used at now.
func (s *AccountTokens) UseAll(ctx context.Context, userID uuid.UUID, purpose user.TokenPurpose, now time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		UPDATE account_tokens SET used_at = ?1
		WHERE user_id = ?2 AND (?3 = '' OR purpose = ?3) AND used_at IS NULL`
	if _, err := s.exec(ctx, q, ts(now), userID, string(purpose)); err != nil {
		return translate(err, "use account tokens")
	}
	return nil
}

// Pending returns userID's unused tokens that expire after now, oldest
// first.
func (s *AccountTokens) Pending(ctx context.Context, userID uuid.UUID, now time.Time) ([]user.AccountToken, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		SELECT hash, user_id, purpose, email, created_at, expires_at, COALESCE(token_version, ?3)
		FROM account_tokens WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2
		ORDER BY created_at, hash`
	rows, err := s.readRows(ctx, q, userID, ts(now), user.Unbound)
	if err != nil {
		return nil, translate(err, "list pending account tokens")
	}
	defer rows.Close()
	var all []user.AccountToken
	for rows.Next() {
		var (
			t            user.AccountToken
			created, exp string
		)
		if err := rows.Scan(&t.Hash, &t.UserID, &t.Purpose, &t.Email, &created, &exp, &t.TokenVersion); err != nil {
			return nil, translate(err, "list pending account tokens")
		}
		if err := errors.Join(parseTS(created, &t.CreatedAt), parseTS(exp, &t.ExpiresAt)); err != nil {
			return nil, fmt.Errorf("list pending account tokens: %w", err)
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list pending account tokens")
	}
	return all, nil
}
