package config

import "time"

// Sessions is the lifetimes of refresh tokens and login sessions. Config
// embeds it, so its variables sit beside the others.
type Sessions struct {
	// RefreshTokenTTL is how long a refresh token stays usable; each
	// refresh issues a new one.
	RefreshTokenTTL time.Duration `env:"USERSVC_REFRESH_TOKEN_TTL" envDefault:"720h"`
	// SessionMaxAge is a session's absolute lifetime from its login:
	// refreshing never extends it.
	SessionMaxAge time.Duration `env:"USERSVC_SESSION_MAX_AGE" envDefault:"2160h"`
	// RefreshReuseGrace is how long a rotated refresh token may still be
	// used (concurrent refreshes) before its reuse revokes the session.
	RefreshReuseGrace time.Duration `env:"USERSVC_REFRESH_REUSE_GRACE" envDefault:"10s"`
	// ReauthWindow is how long after a password login (or POST
	// /reauthenticate) a session may change the email or delete the
	// account without the password again.
	ReauthWindow time.Duration `env:"USERSVC_REAUTH_WINDOW" envDefault:"10m"`
	// RequireMFAFor is whom the service refuses until they use a second
	// factor: none, admin (administrators on the admin routes) or all.
	RequireMFAFor string `env:"USERSVC_REQUIRE_MFA_FOR" envDefault:"none"`
}

func (s *Sessions) validate(bad func(name, format string, args ...any)) {
	if s.RefreshTokenTTL < 5*time.Minute || s.RefreshTokenTTL > 365*24*time.Hour {
		bad("USERSVC_REFRESH_TOKEN_TTL", "must be between 5m and 8760h, got %s", s.RefreshTokenTTL)
	}
	if s.SessionMaxAge < s.RefreshTokenTTL || s.SessionMaxAge > 365*24*time.Hour {
		bad("USERSVC_SESSION_MAX_AGE", "must be between USERSVC_REFRESH_TOKEN_TTL (%s) and 8760h, got %s", s.RefreshTokenTTL, s.SessionMaxAge)
	}
	if s.ReauthWindow < 0 || s.ReauthWindow > 24*time.Hour {
		bad("USERSVC_REAUTH_WINDOW", "must be between 0s and 24h, got %s", s.ReauthWindow)
	}
	switch s.RequireMFAFor {
	case "none", "admin", "all":
	default:
		bad("USERSVC_REQUIRE_MFA_FOR", "must be none, admin or all, got %q", s.RequireMFAFor)
	}
	if s.RefreshReuseGrace < 0 || s.RefreshReuseGrace > time.Minute {
		bad("USERSVC_REFRESH_REUSE_GRACE", "must be between 0s and 1m, got %s", s.RefreshReuseGrace)
	}
}
