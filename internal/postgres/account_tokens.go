package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// AccountTokens is the PostgreSQL user.AccountTokens.
type AccountTokens struct{ conn }

var _ user.AccountTokens = (*AccountTokens)(nil)

// Create stores t.
func (s *AccountTokens) Create(ctx context.Context, t user.AccountToken) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO account_tokens (hash, user_id, purpose, email, created_at, expires_at, token_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if _, err := s.q.Exec(ctx, q, t.Hash, t.UserID, string(t.Purpose), t.Email, t.CreatedAt, t.ExpiresAt, t.TokenVersion); err != nil {
		return translate(err, "create account token")
	}
	return nil
}

// ByHash returns the token of that hash, used or not.
func (s *AccountTokens) ByHash(ctx context.Context, hash []byte) (user.AccountToken, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT hash, user_id, purpose, email, created_at, expires_at, used_at, COALESCE(token_version, $2)
		FROM account_tokens WHERE hash = $1`
	var (
		t    user.AccountToken
		used *time.Time
	)
	err := s.q.QueryRow(ctx, s.lockedInTx(q), hash, user.Unbound).Scan(&t.Hash, &t.UserID, &t.Purpose, &t.Email, &t.CreatedAt, &t.ExpiresAt, &used, &t.TokenVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.AccountToken{}, user.ErrInvalidToken
	}
	if err != nil {
		return user.AccountToken{}, translate(err, "get account token")
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), utc(used)
	return t, nil
}

// useToken marks the usable token of hash and purpose used at now, in tx,
// and returns its user and the email it was sent to; ErrInvalidToken when
// there is no such token, or a reset token bound to a password the user
// no longer has (a NULL token_version, a token of the release before, or
// user.Unbound binds to none). Of concurrent uses, the first to lock the
// row wins: the others find used_at set when they get it.
func useToken(ctx context.Context, tx pgx.Tx, hash []byte, purpose user.TokenPurpose, now time.Time) (uuid.UUID, string, error) {
	const q = `
		UPDATE account_tokens t SET used_at = $3
		WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		  AND (t.purpose <> 'reset_password'
		       OR COALESCE(t.token_version, $4) IN ($4, (SELECT u.token_version FROM users u WHERE u.id = t.user_id)))
		RETURNING user_id, email`
	var (
		id    uuid.UUID
		email string
	)
	err := tx.QueryRow(ctx, q, hash, string(purpose), now, user.Unbound).Scan(&id, &email)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, "", user.ErrInvalidToken
	}
	return id, email, err
}

// UseVerifyEmail uses the verification token and verifies the email
// it was sent to, if still the user's, in one transaction.
func (s *AccountTokens) UseVerifyEmail(ctx context.Context, hash []byte, now time.Time) (user.User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var (
		u       user.User
		changed bool
	)
	err := pgx.BeginFunc(ctx, s.q, func(tx pgx.Tx) error {
		id, email, err := useToken(ctx, tx, hash, user.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		const q = `
			UPDATE users SET email_verified = TRUE, recovery_email = email
			WHERE id = $1 AND lower(email) = lower($2)
			RETURNING ` + userColumns
		u, err = scanUser(tx.QueryRow(ctx, q, id, email))
		if errors.Is(err, pgx.ErrNoRows) {
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
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var u user.User
	err := pgx.BeginFunc(ctx, s.q, func(tx pgx.Tx) error {
		// The account's row first, then its tokens: two links of one
		// account used at once each locked its own token first, then
		// waited for the other's (useOthers) while holding the account's
		// row the other waited for, a deadlock. Now the second waits at
		// the account's row and finds its token used up.
		const lockAccount = `
			SELECT 1 FROM users WHERE id = (SELECT user_id FROM account_tokens WHERE hash = $1) FOR UPDATE`
		if _, err := tx.Exec(ctx, lockAccount, hash); err != nil {
			return err
		}
		id, _, err := useToken(ctx, tx, hash, user.PurposeResetPassword, now)
		if err != nil {
			return err
		}
		const setPassword = `
			UPDATE users SET hashed_password = $2, token_version = token_version + 1
			WHERE id = $1
			RETURNING ` + userColumns
		if u, err = scanUser(tx.QueryRow(ctx, setPassword, id, passwordHash)); err != nil {
			return err
		}
		const useOthers = `
			UPDATE account_tokens SET used_at = $2
			WHERE user_id = $1 AND purpose = 'reset_password' AND used_at IS NULL`
		if _, err := tx.Exec(ctx, useOthers, id, now); err != nil {
			return err
		}
		const revoke = `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`
		_, err = tx.Exec(ctx, revoke, id, now)
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
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE account_tokens SET used_at = $3
		WHERE user_id = $1 AND ($2 = '' OR purpose = $2) AND used_at IS NULL`
	if _, err := s.q.Exec(ctx, q, userID, string(purpose), now); err != nil {
		return translate(err, "use account tokens")
	}
	return nil
}

// Pending returns userID's unused tokens that expire after now, oldest
// first.
func (s *AccountTokens) Pending(ctx context.Context, userID uuid.UUID, now time.Time) ([]user.AccountToken, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT hash, user_id, purpose, email, created_at, expires_at, COALESCE(token_version, $3)
		FROM account_tokens WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2
		ORDER BY created_at, hash`
	rows, err := s.q.Query(ctx, q, userID, now, user.Unbound)
	if err != nil {
		return nil, translate(err, "list pending account tokens")
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.AccountToken, error) {
		var t user.AccountToken
		err := r.Scan(&t.Hash, &t.UserID, &t.Purpose, &t.Email, &t.CreatedAt, &t.ExpiresAt, &t.TokenVersion)
		t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
		return t, err
	})
	if err != nil {
		return nil, translate(err, "list pending account tokens")
	}
	return all, nil
}
