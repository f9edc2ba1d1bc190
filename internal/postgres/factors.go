package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/user"
)

// Factors is the PostgreSQL user.Factors.
type Factors struct{ conn }

var _ user.Factors = (*Factors)(nil)

// PutTOTP stores f, replacing an unconfirmed factor of its user, in one
// statement: a confirmed one stays and the answer is ErrFactorExists.
func (s *Factors) PutTOTP(ctx context.Context, f user.TOTPFactor) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		INSERT INTO mfa_totp (user_id, secret, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at IS NULL`
	tag, err := s.q.Exec(ctx, q, f.UserID, f.Secret, f.CreatedAt)
	if err != nil {
		return translate(err, "put TOTP factor")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrFactorExists
	}
	return nil
}

// TOTP returns userID's TOTP factor.
func (s *Factors) TOTP(ctx context.Context, userID uuid.UUID) (user.TOTPFactor, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `SELECT user_id, secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1`
	var (
		f         user.TOTPFactor
		confirmed *time.Time
	)
	err := s.q.QueryRow(ctx, s.lockedInTx(q), userID).Scan(&f.UserID, &f.Secret, &f.CreatedAt, &confirmed, &f.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.TOTPFactor{}, user.ErrFactorNotFound
	}
	if err != nil {
		return user.TOTPFactor{}, translate(err, "get TOTP factor")
	}
	f.CreatedAt, f.ConfirmedAt = f.CreatedAt.UTC(), utc(confirmed)
	return f, nil
}

// UseTOTP moves LastStep to step (and confirms the factor) when the
// factor is still f and step is after its LastStep, in one statement: of
// concurrent uses, the first to lock the row wins.
func (s *Factors) UseTOTP(ctx context.Context, f user.TOTPFactor, step int64, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		UPDATE mfa_totp SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2)
		WHERE user_id = $3 AND secret = $4 AND last_step < $1`
	tag, err := s.q.Exec(ctx, q, step, at, f.UserID, f.Secret)
	if err != nil {
		return translate(err, "use TOTP code")
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	stored, err := s.TOTP(ctx, f.UserID)
	if err != nil {
		return err
	}
	if !bytes.Equal(stored.Secret, f.Secret) {
		return user.ErrFactorNotFound
	}
	return user.ErrCodeUsed
}

// DeleteTOTP removes userID's TOTP factor.
func (s *Factors) DeleteTOTP(ctx context.Context, userID uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	tag, err := s.q.Exec(ctx, `DELETE FROM mfa_totp WHERE user_id = $1`, userID)
	if err != nil {
		return translate(err, "delete TOTP factor")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrFactorNotFound
	}
	return nil
}

// SetRecoveryCodes replaces userID's recovery codes, in one transaction.
func (s *Factors) SetRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes [][]byte, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.q, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		const q = `
			INSERT INTO mfa_recovery_codes (user_id, hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`
		_, err := tx.Exec(ctx, q, userID, hashes, at)
		return err
	})
	if err != nil {
		return translate(err, "set recovery codes")
	}
	return nil
}

// UseRecoveryCode marks the unused code of hash used and counts the
// unused ones left, in one statement: of concurrent uses, the first to
// lock the row wins.
func (s *Factors) UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash []byte, at time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		WITH used AS (
			UPDATE mfa_recovery_codes SET used_at = $3
			WHERE user_id = $1 AND hash = $2 AND used_at IS NULL
			RETURNING hash
		)
		SELECT (SELECT count(*) FROM used),
		       (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL) - (SELECT count(*) FROM used)`
	var used, left int
	if err := s.q.QueryRow(ctx, q, userID, hash, at).Scan(&used, &left); err != nil {
		return 0, translate(err, "use recovery code")
	}
	if used == 0 {
		return 0, user.ErrInvalidCode
	}
	return left, nil
}

// RecoveryCodes counts userID's unused recovery codes.
func (s *Factors) RecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	var n int
	err := s.q.QueryRow(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, translate(err, "count recovery codes")
	}
	return n, nil
}

// DeleteAll removes userID's TOTP factor and recovery codes, in one
// statement.
func (s *Factors) DeleteAll(ctx context.Context, userID uuid.UUID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		WITH t AS (DELETE FROM mfa_totp WHERE user_id = $1 RETURNING 1),
		     r AS (DELETE FROM mfa_recovery_codes WHERE user_id = $1 RETURNING 1)
		SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM r)`
	var n int
	if err := s.q.QueryRow(ctx, q, userID).Scan(&n); err != nil {
		return false, translate(err, "delete second factors")
	}
	return n > 0, nil
}

// MFAChallenges is the PostgreSQL user.MFAChallenges.
type MFAChallenges struct{ conn }

var _ user.MFAChallenges = (*MFAChallenges)(nil)

// Create stores c and removes its user's expired challenges, in one
// statement.
func (s *MFAChallenges) Create(ctx context.Context, c user.MFAChallenge) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		WITH gone AS (DELETE FROM mfa_challenges WHERE user_id = $2 AND expires_at <= $5)
		INSERT INTO mfa_challenges (hash, user_id, client_id, device, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	if _, err := s.q.Exec(ctx, q, c.Hash, c.UserID, c.ClientID, c.Device, c.CreatedAt, c.ExpiresAt); err != nil {
		return translate(err, "create MFA challenge")
	}
	return nil
}

// ByHash returns the challenge of hash.
func (s *MFAChallenges) ByHash(ctx context.Context, hash []byte) (user.MFAChallenge, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `
		SELECT hash, user_id, client_id, device, created_at, expires_at, used_at, failed_at
		FROM mfa_challenges WHERE hash = $1`
	var (
		c            user.MFAChallenge
		used, failed *time.Time
	)
	err := s.q.QueryRow(ctx, q, hash).Scan(&c.Hash, &c.UserID, &c.ClientID, &c.Device, &c.CreatedAt, &c.ExpiresAt, &used, &failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.MFAChallenge{}, user.ErrInvalidMFAToken
	}
	if err != nil {
		return user.MFAChallenge{}, translate(err, "get MFA challenge")
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt, c.FailedAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC(), utc(used), utc(failed)
	return c, nil
}

// Use marks the usable challenge of hash used, in one statement: of
// concurrent uses, the first to lock the row wins.
func (s *MFAChallenges) Use(ctx context.Context, hash []byte, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE mfa_challenges SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`
	tag, err := s.q.Exec(ctx, q, hash, now)
	if err != nil {
		return translate(err, "use MFA challenge")
	}
	if tag.RowsAffected() == 0 {
		return user.ErrInvalidMFAToken
	}
	return nil
}

// MarkFailed records the challenge's first wrong proof, in one
// statement: of concurrent marks, the first to lock the row sets it.
func (s *MFAChallenges) MarkFailed(ctx context.Context, hash []byte, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE mfa_challenges SET failed_at = $2 WHERE hash = $1 AND failed_at IS NULL`
	tag, err := s.q.Exec(ctx, q, hash, now)
	if err != nil {
		return false, translate(err, "mark MFA challenge failed")
	}
	return tag.RowsAffected() == 1, nil
}

// UseAll marks userID's unused challenges used, in one statement.
func (s *MFAChallenges) UseAll(ctx context.Context, userID uuid.UUID, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	const q = `UPDATE mfa_challenges SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`
	if _, err := s.q.Exec(ctx, q, userID, now); err != nil {
		return translate(err, "use MFA challenges")
	}
	return nil
}
