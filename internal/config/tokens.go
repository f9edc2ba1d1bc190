package config

import (
	"strings"
	"time"
)

// Tokens is the settings of access tokens beyond issuer and lifetime: the
// audience they are for and the clock skew tolerated when checking them.
// Config embeds it, so its variables sit beside the others.
type Tokens struct {
	JWTAudience string        `env:"USERSVC_JWT_AUDIENCE" envDefault:"usersvc"`
	JWTLeeway   time.Duration `env:"USERSVC_JWT_LEEWAY" envDefault:"30s"`
}

// MaxLeeway is the largest clock skew USERSVC_JWT_LEEWAY accepts: more
// would keep expired tokens alive noticeably longer.
const MaxLeeway = 5 * time.Minute

func (t *Tokens) validate(bad func(name, format string, args ...any)) {
	if strings.TrimSpace(t.JWTAudience) == "" {
		bad("USERSVC_JWT_AUDIENCE", "must not be empty")
	}
	if t.JWTLeeway < 0 || t.JWTLeeway > MaxLeeway {
		bad("USERSVC_JWT_LEEWAY", "must be between 0s and %s, got %s", MaxLeeway, t.JWTLeeway)
	}
}
