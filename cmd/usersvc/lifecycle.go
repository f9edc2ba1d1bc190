package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/user"
)

// lifecycleOptions configures email verification and password reset from
// cfg, and logs every failure of account mail (which never fails the
// request that caused it).
func lifecycleOptions(cfg config.Config, log *slog.Logger) []user.Option {
	return []user.Option{
		user.WithLifecyclePolicy(user.LifecyclePolicy{
			VerifyTTL: cfg.EmailVerificationTTL, ResetTTL: cfg.PasswordResetTTL,
			RequireVerified: bool(cfg.RequireVerifiedEmail),
		}),
		user.WithMailErrors(func(ctx context.Context, err error) {
			log.ErrorContext(ctx, "account mail failed", "error", err.Error())
		}),
	}
}

// finishBackground lets the service's background work (password reset
// mail) finish, for up to grace, once the server has stopped.
func finishBackground(ctx context.Context, svc *user.Service, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := svc.Close(ctx); err != nil {
		log.Warn("background work did not finish before shutdown", "error", err.Error())
	}
}
