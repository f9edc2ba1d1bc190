package usertest

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// recoveryCode is one stored recovery code of the fake.
type recoveryCode struct {
	hash   []byte
	usedAt time.Time
}

// memoryFactors is Memory's user.Factors. Its slices of recovery codes
// are never changed in place (a snapshot shares them): every change
// makes a new one.
type memoryFactors struct{ memoryConn }

var _ user.Factors = memoryFactors{}

// PutTOTP implements user.Factors.
func (m memoryFactors) PutTOTP(_ context.Context, f user.TOTPFactor) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[f.UserID]; !ok {
		return errForeignKey
	}
	if old, ok := m.totp[f.UserID]; ok && old.Confirmed() {
		return user.ErrFactorExists
	}
	m.totp[f.UserID] = user.TOTPFactor{UserID: f.UserID, Secret: bytes.Clone(f.Secret), CreatedAt: f.CreatedAt}
	return nil
}

// TOTP implements user.Factors.
func (m memoryFactors) TOTP(_ context.Context, userID uuid.UUID) (user.TOTPFactor, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.TOTPFactor{}, err
	}
	f, ok := m.totp[userID]
	if !ok {
		return user.TOTPFactor{}, user.ErrFactorNotFound
	}
	f.Secret = bytes.Clone(f.Secret)
	return f, nil
}

// UseTOTP implements user.Factors.
func (m memoryFactors) UseTOTP(_ context.Context, used user.TOTPFactor, step int64, at time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	f, ok := m.totp[used.UserID]
	switch {
	case !ok || !bytes.Equal(f.Secret, used.Secret):
		return user.ErrFactorNotFound
	case step <= f.LastStep:
		return user.ErrCodeUsed
	}
	f.LastStep = step
	if f.ConfirmedAt.IsZero() {
		f.ConfirmedAt = at
	}
	m.totp[used.UserID] = f
	return nil
}

// DeleteTOTP implements user.Factors.
func (m memoryFactors) DeleteTOTP(_ context.Context, userID uuid.UUID) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.totp[userID]; !ok {
		return user.ErrFactorNotFound
	}
	delete(m.totp, userID)
	return nil
}

// SetRecoveryCodes implements user.Factors.
func (m memoryFactors) SetRecoveryCodes(_ context.Context, userID uuid.UUID, hashes [][]byte, _ time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[userID]; !ok {
		return errForeignKey
	}
	codes := make([]recoveryCode, len(hashes))
	for i, h := range hashes {
		codes[i] = recoveryCode{hash: bytes.Clone(h)}
	}
	m.recoveryCodes[userID] = codes
	return nil
}

// UseRecoveryCode implements user.Factors.
func (m memoryFactors) UseRecoveryCode(_ context.Context, userID uuid.UUID, hash []byte, at time.Time) (int, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	codes := slices.Clone(m.recoveryCodes[userID])
	i := slices.IndexFunc(codes, func(c recoveryCode) bool { return c.usedAt.IsZero() && bytes.Equal(c.hash, hash) })
	if i < 0 {
		return 0, user.ErrInvalidCode
	}
	codes[i].usedAt = at
	m.recoveryCodes[userID] = codes
	return unused(codes), nil
}

// RecoveryCodes implements user.Factors.
func (m memoryFactors) RecoveryCodes(_ context.Context, userID uuid.UUID) (int, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return 0, err
	}
	return unused(m.recoveryCodes[userID]), nil
}

// unused counts the codes not used.
func unused(codes []recoveryCode) int {
	n := 0
	for _, c := range codes {
		if c.usedAt.IsZero() {
			n++
		}
	}
	return n
}

// DeleteAll implements user.Factors.
func (m memoryFactors) DeleteAll(_ context.Context, userID uuid.UUID) (bool, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return false, err
	}
	_, had := m.totp[userID]
	had = had || len(m.recoveryCodes[userID]) > 0
	delete(m.totp, userID)
	delete(m.recoveryCodes, userID)
	return had, nil
}

// memoryChallenges is Memory's user.MFAChallenges.
type memoryChallenges struct{ memoryConn }

var _ user.MFAChallenges = memoryChallenges{}

// Create implements user.MFAChallenges.
func (m memoryChallenges) Create(_ context.Context, c user.MFAChallenge) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	if _, ok := m.users[c.UserID]; !ok {
		return errForeignKey
	}
	for h, old := range m.challenges {
		if old.UserID == c.UserID && !c.CreatedAt.Before(old.ExpiresAt) {
			delete(m.challenges, h)
		}
	}
	c.Hash = bytes.Clone(c.Hash)
	m.challenges[string(c.Hash)] = c
	return nil
}

// ByHash implements user.MFAChallenges.
func (m memoryChallenges) ByHash(_ context.Context, hash []byte) (user.MFAChallenge, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return user.MFAChallenge{}, err
	}
	c, ok := m.challenges[string(hash)]
	if !ok {
		return user.MFAChallenge{}, user.ErrInvalidMFAToken
	}
	c.Hash = bytes.Clone(c.Hash)
	return c, nil
}

// Use implements user.MFAChallenges.
func (m memoryChallenges) Use(_ context.Context, hash []byte, now time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	c, ok := m.challenges[string(hash)]
	if !ok || !c.UsedAt.IsZero() || !now.Before(c.ExpiresAt) {
		return user.ErrInvalidMFAToken
	}
	c.UsedAt = now
	m.challenges[string(hash)] = c
	return nil
}

// MarkFailed implements user.MFAChallenges.
func (m memoryChallenges) MarkFailed(_ context.Context, hash []byte, now time.Time) (bool, error) {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return false, err
	}
	c, ok := m.challenges[string(hash)]
	if !ok || !c.FailedAt.IsZero() {
		return false, nil
	}
	c.FailedAt = now
	m.challenges[string(hash)] = c
	return true, nil
}

// UseAll implements user.MFAChallenges.
func (m memoryChallenges) UseAll(_ context.Context, userID uuid.UUID, now time.Time) error {
	m.lock()
	defer m.unlock()
	if err := m.failure(); err != nil {
		return err
	}
	for h, c := range m.challenges {
		if c.UserID == userID && c.UsedAt.IsZero() {
			c.UsedAt = now
			m.challenges[h] = c
		}
	}
	return nil
}
