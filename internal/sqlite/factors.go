package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Factors is the SQLite user.Factors.
type Factors struct{ conn }

var _ user.Factors = (*Factors)(nil)

// PutTOTP stores f, replacing an unconfirmed factor of its user, in one
// statement: a confirmed one stays and the answer is ErrFactorExists.
func (s *Factors) PutTOTP(ctx context.Context, f user.TOTPFactor) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		INSERT INTO mfa_totp (user_id, secret, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at IS NULL`
	res, err := s.exec(ctx, q, f.UserID, f.Secret, ts(f.CreatedAt))
	if err != nil {
		return translate(err, "put TOTP factor")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return translate(err, "put TOTP factor")
		}
		return user.ErrFactorExists
	}
	return nil
}

// TOTP returns userID's TOTP factor.
func (s *Factors) TOTP(ctx context.Context, userID uuid.UUID) (user.TOTPFactor, error) {
	const q = `SELECT user_id, secret, created_at, confirmed_at, last_step FROM mfa_totp WHERE user_id = ?`
	var (
		f         user.TOTPFactor
		created   string
		confirmed sql.NullString
	)
	err := s.readRow(ctx, q, userID).Scan(&f.UserID, &f.Secret, &created, &confirmed, &f.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return user.TOTPFactor{}, user.ErrFactorNotFound
	}
	if err != nil {
		return user.TOTPFactor{}, translate(err, "get TOTP factor")
	}
	if err := errors.Join(parseTS(created, &f.CreatedAt), parseTS(confirmed.String, &f.ConfirmedAt)); err != nil {
		return user.TOTPFactor{}, fmt.Errorf("get TOTP factor: %w", err)
	}
	return f, nil
}

// UseTOTP moves LastStep to step (and confirms the factor) when the
// factor is still f and step is after its LastStep, in one statement on
// the single writer.
func (s *Factors) UseTOTP(ctx context.Context, f user.TOTPFactor, step int64, at time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `
		UPDATE mfa_totp SET last_step = ?1, confirmed_at = COALESCE(confirmed_at, ?2)
		WHERE user_id = ?3 AND secret = ?4 AND last_step < ?1`
	res, err := s.exec(ctx, q, step, ts(at), f.UserID, f.Secret)
	if err != nil {
		return translate(err, "use TOTP code")
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
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
	ctx, cancel := s.wait(ctx)
	defer cancel()
	res, err := s.exec(ctx, `DELETE FROM mfa_totp WHERE user_id = ?`, userID)
	if err != nil {
		return translate(err, "delete TOTP factor")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return translate(err, "delete TOTP factor")
		}
		return user.ErrFactorNotFound
	}
	return nil
}

// SetRecoveryCodes replaces userID's recovery codes, in one transaction.
func (s *Factors) SetRecoveryCodes(ctx context.Context, userID uuid.UUID, hashes [][]byte, at time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			const q = `INSERT INTO mfa_recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`
			if _, err := tx.ExecContext(ctx, q, userID, h, ts(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return translate(err, "set recovery codes")
	}
	return nil
}

// UseRecoveryCode marks the unused code of hash used, in one statement on
// the single writer, and counts the unused ones left.
func (s *Factors) UseRecoveryCode(ctx context.Context, userID uuid.UUID, hash []byte, at time.Time) (int, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`
	res, err := s.exec(ctx, q, ts(at), userID, hash)
	if err != nil {
		return 0, translate(err, "use recovery code")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return 0, translate(err, "use recovery code")
		}
		return 0, user.ErrInvalidCode
	}
	return s.RecoveryCodes(ctx, userID)
}

// RecoveryCodes counts userID's unused recovery codes.
func (s *Factors) RecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	err := s.readRow(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, translate(err, "count recovery codes")
	}
	return n, nil
}

// DeleteAll removes userID's TOTP factor and recovery codes, in one
// transaction.
func (s *Factors) DeleteAll(ctx context.Context, userID uuid.UUID) (bool, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	var found bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM mfa_totp WHERE user_id = ?`, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`} {
			res, err := tx.ExecContext(ctx, q, userID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			found = found || n > 0
		}
		return nil
	})
	if err != nil {
		return false, translate(err, "delete second factors")
	}
	return found, nil
}

// MFAChallenges is the SQLite user.MFAChallenges.
type MFAChallenges struct{ conn }

var _ user.MFAChallenges = (*MFAChallenges)(nil)

// Create stores c and removes its user's expired challenges, in one
// transaction.
func (s *MFAChallenges) Create(ctx context.Context, c user.MFAChallenge) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_challenges WHERE user_id = ? AND expires_at <= ?`, c.UserID, ts(c.CreatedAt)); err != nil {
			return err
		}
		const q = `
			INSERT INTO mfa_challenges (hash, user_id, client_id, device, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, c.Hash, c.UserID, c.ClientID, c.Device, ts(c.CreatedAt), ts(c.ExpiresAt))
		return err
	})
	if err != nil {
		return translate(err, "create MFA challenge")
	}
	return nil
}

// ByHash returns the challenge of hash.
func (s *MFAChallenges) ByHash(ctx context.Context, hash []byte) (user.MFAChallenge, error) {
	const q = `
		SELECT hash, user_id, client_id, device, created_at, expires_at, used_at, failed_at
		FROM mfa_challenges WHERE hash = ?`
	var (
		c            user.MFAChallenge
		created, exp string
		used, failed sql.NullString
	)
	err := s.readRow(ctx, q, hash).Scan(&c.Hash, &c.UserID, &c.ClientID, &c.Device, &created, &exp, &used, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		return user.MFAChallenge{}, user.ErrInvalidMFAToken
	}
	if err != nil {
		return user.MFAChallenge{}, translate(err, "get MFA challenge")
	}
	if err := errors.Join(parseTS(created, &c.CreatedAt), parseTS(exp, &c.ExpiresAt), parseTS(used.String, &c.UsedAt), parseTS(failed.String, &c.FailedAt)); err != nil {
		return user.MFAChallenge{}, fmt.Errorf("get MFA challenge: %w", err)
	}
	return c, nil
}

// Use marks the usable challenge of hash used, in one statement on the
// single writer: of concurrent uses, one wins.
func (s *MFAChallenges) Use(ctx context.Context, hash []byte, now time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE mfa_challenges SET used_at = ?1 WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1`
	res, err := s.exec(ctx, q, ts(now), hash)
	if err != nil {
		return translate(err, "use MFA challenge")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return translate(err, "use MFA challenge")
		}
		return user.ErrInvalidMFAToken
	}
	return nil
}

// MarkFailed records the challenge's first wrong proof, in one statement
// on the one writer.
func (s *MFAChallenges) MarkFailed(ctx context.Context, hash []byte, now time.Time) (bool, error) {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE mfa_challenges SET failed_at = ? WHERE hash = ? AND failed_at IS NULL`
	res, err := s.exec(ctx, q, ts(now), hash)
	return wroteOne(res, err, "mark MFA challenge failed")
}

// UseAll marks userID's unused challenges used, in one statement.
func (s *MFAChallenges) UseAll(ctx context.Context, userID uuid.UUID, now time.Time) error {
	ctx, cancel := s.wait(ctx)
	defer cancel()
	const q = `UPDATE mfa_challenges SET used_at = ? WHERE user_id = ? AND used_at IS NULL`
	if _, err := s.exec(ctx, q, ts(now), userID); err != nil {
		return translate(err, "use MFA challenges")
	}
	return nil
}
