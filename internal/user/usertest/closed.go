package usertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user"
)

// Store is what both real stores are: users and their sessions.
type Store interface {
	user.Repository
	user.SessionRepository
}

// RunClosed checks that every method of s, a store already closed, fails
// with an error that is none of the business errors a caller could mistake
// for an answer (a closed database is not "user not found").
func RunClosed(t *testing.T, s Store) {
	t.Helper()
	ctx, id, now := t.Context(), uuid.Must(uuid.NewV7()), time.Now()
	sess, rt := NewSession(id, now)
	tok := NewAccountToken(user.User{ID: id, Email: "a@example.com"}, user.PurposeResetPassword, now)
	for _, tt := range []struct {
		call string
		do   func() error
		not  []error // what the error must not be
	}{
		{"Create", func() error { _, err := s.Create(ctx, NewUser(1)); return err }, userErrors},
		{"ByID", func() error { _, err := s.ByID(ctx, id); return err }, userErrors},
		{"ByEmail", func() error { _, err := s.ByEmail(ctx, "a@example.com"); return err }, userErrors},
		{"ByUsername", func() error { _, err := s.ByUsername(ctx, "a"); return err }, userErrors},
		{"Update", func() error { _, err := s.Update(ctx, id, user.Patch{FullName: new("x")}); return err }, userErrors},
		{"SetPassword", func() error { return s.SetPassword(ctx, id, "h") }, userErrors},
		{"Delete", func() error { return s.Delete(ctx, id) }, userErrors},
		{"Ping", func() error { return s.Ping(ctx) }, userErrors},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx, user.ListQuery{Limit: 1}); return err }, userErrors},
		{"UpdateKeepingAdmin", func() error { _, err := s.UpdateKeepingAdmin(ctx, id, user.Patch{IsActive: new(false)}); return err }, adminErrors},
		{"DeleteKeepingAdmin", func() error { return s.DeleteKeepingAdmin(ctx, id) }, adminErrors},
		{"CreateSession", func() error { return s.CreateSession(ctx, sess, rt) }, sessionErrors},
		{"Session", func() error { _, err := s.Session(ctx, id, id); return err }, sessionErrors},
		{"ActiveSessions", func() error { _, err := s.ActiveSessions(ctx, id, now); return err }, sessionErrors},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, id, id, now) }, sessionErrors},
		{"RevokeSessions", func() error { return s.RevokeSessions(ctx, id, uuid.Nil, now) }, sessionErrors},
		{"RefreshToken", func() error { _, _, err := s.RefreshToken(ctx, rt.Hash); return err }, sessionErrors},
		{"AddRefreshToken", func() error { return s.AddRefreshToken(ctx, rt, rt.Hash) }, sessionErrors},
		{"Deactivate", func() error { return s.Deactivate(ctx, id) }, sessionErrors},
		{"UserSession", func() error { _, _, err := s.UserSession(ctx, id, id); return err }, sessionErrors},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, NewAuditEvent(user.AuditRegistered, id, id, now)) }, userErrors},
		{"AuditEvents", func() error { _, err := s.AuditEvents(ctx, user.AuditFilter{SubjectID: id}); return err }, userErrors},
		{"AllSessions", func() error { _, err := s.AllSessions(ctx, id); return err }, sessionErrors},
		{"CreateAccountToken", func() error { return s.CreateAccountToken(ctx, tok) }, tokenErrors},
		{"AccountToken", func() error { _, err := s.AccountToken(ctx, tok.Hash); return err }, tokenErrors},
		{"UseVerifyEmailToken", func() error { _, err := s.UseVerifyEmailToken(ctx, tok.Hash, now); return err }, tokenErrors},
		{"UseResetPasswordToken", func() error { _, err := s.UseResetPasswordToken(ctx, tok.Hash, "h", now); return err }, tokenErrors},
	} {
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

var (
	userErrors    = []error{user.ErrNotFound}
	adminErrors   = []error{user.ErrNotFound, user.ErrLastAdmin}
	sessionErrors = []error{user.ErrSessionNotFound, user.ErrNotFound, user.ErrRefreshTokenUsed}
	tokenErrors   = []error{user.ErrInvalidToken, user.ErrEmailChanged, user.ErrNotFound}
)
