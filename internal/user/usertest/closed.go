package usertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// RunClosed checks that every method of s, the stores of a database
// already closed, fails with an error that is none of the business errors
// a caller could mistake for an answer (a closed database is not "user not
// found").
func RunClosed(t *testing.T, s user.Stores) {
	t.Helper()
	ctx, id, now := t.Context(), uuid.Must(uuid.NewV7()), time.Now()
	sess, rt := NewSession(id, now)
	tok := NewAccountToken(user.User{ID: id, Email: "a@example.com"}, user.PurposeResetPassword, now)
	for _, tt := range append([]closedCall{
		{"Users.Create", func() error { _, err := s.Users.Create(ctx, NewUser(1)); return err }, userErrors},
		{"Users.ByID", func() error { _, err := s.Users.ByID(ctx, id); return err }, userErrors},
		{"Users.ByEmail", func() error { _, err := s.Users.ByEmail(ctx, "a@example.com"); return err }, userErrors},
		{"Users.ByUsername", func() error { _, err := s.Users.ByUsername(ctx, "a"); return err }, userErrors},
		{"Users.Update", func() error { _, err := s.Users.Update(ctx, id, user.Patch{FullName: new("x")}); return err }, userErrors},
		{"Users.Update removing an admin", func() error {
			_, err := s.Users.Update(ctx, id, user.Patch{IsActive: new(false)})
			return err
		}, adminErrors},
		{"Users.Delete", func() error { return s.Users.Delete(ctx, id) }, adminErrors},
		{"Users.SetPassword", func() error { return s.Users.SetPassword(ctx, id, "h") }, userErrors},
		{"Users.RehashPassword", func() error { return s.Users.RehashPassword(ctx, id, "h", "h2") }, userErrors},
		{"Users.List", func() error { _, err := s.Users.List(ctx, user.ListQuery{Limit: 1}); return err }, userErrors},
		{"Sessions.Create", func() error { return s.Sessions.Create(ctx, sess, rt) }, sessionErrors},
		{"Sessions.UserSession", func() error { _, _, err := s.Sessions.UserSession(ctx, id, id); return err }, sessionErrors},
		{"Sessions.Active", func() error { _, err := s.Sessions.Active(ctx, id, now, user.SessionPage{}); return err }, sessionErrors},
		{"Sessions.All", func() error { _, err := s.Sessions.All(ctx, id, user.SessionPage{}); return err }, sessionErrors},
		{"Sessions.Revoke", func() error { return s.Sessions.Revoke(ctx, id, id, now) }, sessionErrors},
		{"Sessions.RevokeAll", func() error { return s.Sessions.RevokeAll(ctx, id, uuid.Nil, now) }, sessionErrors},
		{"Sessions.RevokeOldest", func() error { _, err := s.Sessions.RevokeOldest(ctx, id, 1, now); return err }, sessionErrors},
		{"Sessions.RefreshToken", func() error { _, _, err := s.Sessions.RefreshToken(ctx, rt.Hash); return err }, sessionErrors},
		{"Sessions.AddRefreshToken", func() error { return s.Sessions.AddRefreshToken(ctx, rt, rt.Hash) }, sessionErrors},
		{"AccountTokens.Create", func() error { return s.AccountTokens.Create(ctx, tok) }, tokenErrors},
		{"AccountTokens.ByHash", func() error { _, err := s.AccountTokens.ByHash(ctx, tok.Hash); return err }, tokenErrors},
		{"AccountTokens.UseVerifyEmail", func() error {
			_, err := s.AccountTokens.UseVerifyEmail(ctx, tok.Hash, now)
			return err
		}, tokenErrors},
		{"AccountTokens.UseResetPassword", func() error {
			_, err := s.AccountTokens.UseResetPassword(ctx, tok.Hash, "h", now)
			return err
		}, tokenErrors},
		{"Audit.Append", func() error { return s.Audit.Append(ctx, NewAuditEvent(user.AuditRegistered, id, id, now)) }, userErrors},
		{"Audit.Events", func() error { _, err := s.Audit.Events(ctx, user.AuditFilter{SubjectID: id}); return err }, userErrors},
		{"Retention.CountBefore", func() error { _, err := s.Retention.CountBefore(ctx, now); return err }, userErrors},
		{"Retention.PruneBefore", func() error { _, err := s.Retention.PruneBefore(ctx, now); return err }, userErrors},
		{"Tx.Atomic", func() error { return s.Tx.Atomic(ctx, func(user.Stores) error { return nil }) }, userErrors},
	}, append(recoveryCalls(ctx, s, id, now), factorCalls(ctx, s, id, now)...)...) {
		err := tt.do()
		if err == nil {
			t.Errorf("%s on a closed store: got nil, want an error", tt.call)
			continue
		}
		for _, sentinel := range tt.not {
			if errors.Is(err, sentinel) {
				t.Errorf("%s on a closed store: got %v, want an error other than %v", tt.call, err, sentinel)
			}
		}
	}
}

// closedCall is one call of RunClosed.
type closedCall struct {
	call string
	do   func() error
	not  []error // what the error must not be
}

// recoveryCalls are RunClosed's calls of the methods for account recovery
// and sensitive changes, on user or session id.
func recoveryCalls(ctx context.Context, s user.Stores, id uuid.UUID, now time.Time) []closedCall {
	change := NewEmailChange(user.User{ID: id, Email: "a@example.com"}, "b@example.com", now)
	return []closedCall{
		{"Sessions.Reauthenticated", func() error { return s.Sessions.Reauthenticated(ctx, id, id, now) }, sessionErrors},
		{"AccountTokens.UseAll", func() error { return s.AccountTokens.UseAll(ctx, id, "", now) }, tokenErrors},
		{"AccountTokens.Pending", func() error { _, err := s.AccountTokens.Pending(ctx, id, now); return err }, tokenErrors},
		{"EmailChanges.Create", func() error { return s.EmailChanges.Create(ctx, change) }, tokenErrors},
		{"EmailChanges.Use", func() error { _, err := s.EmailChanges.Use(ctx, change.Hash, now); return err }, tokenErrors},
		{"EmailChanges.UseAfter", func() error { return s.EmailChanges.UseAfter(ctx, id, now, now) }, tokenErrors},
		{"EmailChanges.Undoable", func() error { _, err := s.EmailChanges.Undoable(ctx, id, now); return err }, tokenErrors},
	}
}

// factorCalls are RunClosed's calls of the second factors' ports, for a
// store that keeps them.
func factorCalls(ctx context.Context, s user.Stores, id uuid.UUID, now time.Time) []closedCall {
	if s.Factors == nil || s.MFAChallenges == nil {
		return nil
	}
	hash := []byte("0123456789abcdef0123456789abcdef")
	return []closedCall{
		{"Factors.PutTOTP", func() error {
			return s.Factors.PutTOTP(ctx, user.TOTPFactor{UserID: id, Secret: []byte("sealed"), CreatedAt: now})
		}, factorErrors},
		{"Factors.TOTP", func() error { _, err := s.Factors.TOTP(ctx, id); return err }, factorErrors},
		{"Factors.UseTOTP", func() error {
			return s.Factors.UseTOTP(ctx, user.TOTPFactor{UserID: id, Secret: []byte("sealed")}, 1, now)
		}, factorErrors},
		{"Factors.DeleteTOTP", func() error { return s.Factors.DeleteTOTP(ctx, id) }, factorErrors},
		{"Factors.SetRecoveryCodes", func() error { return s.Factors.SetRecoveryCodes(ctx, id, [][]byte{hash}, now) }, factorErrors},
		{"Factors.UseRecoveryCode", func() error { _, err := s.Factors.UseRecoveryCode(ctx, id, hash, now); return err }, factorErrors},
		{"Factors.RecoveryCodes", func() error { _, err := s.Factors.RecoveryCodes(ctx, id); return err }, factorErrors},
		{"Factors.DeleteAll", func() error { _, err := s.Factors.DeleteAll(ctx, id); return err }, factorErrors},
		{"MFAChallenges.Create", func() error {
			return s.MFAChallenges.Create(ctx, user.MFAChallenge{Hash: hash, UserID: id, CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		}, factorErrors},
		{"MFAChallenges.ByHash", func() error { _, err := s.MFAChallenges.ByHash(ctx, hash); return err }, factorErrors},
		{"MFAChallenges.Use", func() error { return s.MFAChallenges.Use(ctx, hash, now) }, factorErrors},
		{"MFAChallenges.UseAll", func() error { return s.MFAChallenges.UseAll(ctx, id, now) }, factorErrors},
	}
}

var (
	factorErrors  = []error{user.ErrFactorNotFound, user.ErrFactorExists, user.ErrCodeUsed, user.ErrInvalidCode, user.ErrInvalidMFAToken}
	userErrors    = []error{user.ErrNotFound}
	adminErrors   = []error{user.ErrNotFound, user.ErrLastAdmin}
	sessionErrors = []error{user.ErrSessionNotFound, user.ErrNotFound, user.ErrRefreshTokenUsed}
	tokenErrors   = []error{user.ErrInvalidToken, user.ErrEmailChanged, user.ErrNotFound}
)
