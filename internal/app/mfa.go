package app

import (
	"log/slog"

	"github.com/usersvc/usersvc/internal/config"
	"github.com/usersvc/usersvc/internal/totp"
	"github.com/usersvc/usersvc/internal/user"
)

// MFA is the second-factor setup cfg makes: TOTP named after the issuer,
// its secrets sealed with the key-encryption key, made on first need (as
// the webhooks' are, so that development without second factors never
// generates one). In production without USERSVC_KEY_ENCRYPTION_KEY there
// is no sealer and enrolling answers user.ErrMFAUnavailable. more are
// the kinds of factor other packages keep (passkeys).
func MFA(cfg config.Config, log *slog.Logger, more ...user.SecondFactor) user.MFA {
	m := user.MFA{TOTP: totp.New(cfg.JWTIssuer), More: more}
	if cfg.KeyEncryptionKey == "" && cfg.Env == config.Production {
		return m
	}
	m.Sealer = func() (user.Sealer, error) {
		return keySealer(cfg, log)
	}
	return m
}
