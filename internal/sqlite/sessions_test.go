package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/sqlite"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/user/usertest"
)

// TestClosedStoreSessions: every session method of a closed store fails
// with an error that is no business error.
func TestClosedStoreSessions(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, id, now := t.Context(), uuid.Must(uuid.NewV7()), time.Now()
	sess, rt := usertest.NewSession(id, now)
	for _, tt := range []struct {
		call string
		do   func() error
	}{
		{"CreateSession", func() error { return s.CreateSession(ctx, sess, rt) }},
		{"Session", func() error { _, err := s.Session(ctx, id, id); return err }},
		{"ActiveSessions", func() error { _, err := s.ActiveSessions(ctx, id, now); return err }},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, id, id, now) }},
		{"RevokeSessions", func() error { return s.RevokeSessions(ctx, id, uuid.Nil, now) }},
		{"RefreshToken", func() error { _, _, err := s.RefreshToken(ctx, rt.Hash); return err }},
		{"AddRefreshToken", func() error { return s.AddRefreshToken(ctx, rt, rt.Hash) }},
		{"Deactivate", func() error { return s.Deactivate(ctx, id) }},
	} {
		err := tt.do()
		if err == nil || errors.Is(err, user.ErrSessionNotFound) || errors.Is(err, user.ErrNotFound) || errors.Is(err, user.ErrRefreshTokenUsed) {
			t.Errorf("%s on a closed store: got error %v, want an error other than the sentinels", tt.call, err)
		}
	}
}
