package main

import (
	"context"
	"log/slog"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

// sessionOptions configures refresh tokens and sessions from cfg, and logs
// every detected reuse of a refresh token (the session is revoked).
func sessionOptions(cfg config.Config, log *slog.Logger) []user.Option {
	return []user.Option{
		user.WithSessionPolicy(user.SessionPolicy{
			RefreshTTL: cfg.RefreshTokenTTL, MaxAge: cfg.SessionMaxAge, ReuseGrace: cfg.RefreshReuseGrace,
		}),
		user.WithReuseDetected(func(ctx context.Context, s user.Session) {
			log.WarnContext(ctx, "refresh token reused after rotation: session revoked",
				"user_id", s.UserID.String(), "session_id", s.ID.String())
		}),
	}
}
