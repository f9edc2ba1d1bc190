package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Abuse is the settings that protect the service and its accounts: rate
// limits, the login lockout, the password policy and the bounds on
// hashing. Config embeds it, so its variables sit beside the others.
type Abuse struct {
	RateLimits         Switch `env:"USERSVC_RATE_LIMITS" envDefault:"on"`
	RateLimitLogin     Rate   `env:"USERSVC_RATE_LIMIT_LOGIN" envDefault:"20/1m"`
	RateLimitLoginAcct Rate   `env:"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT" envDefault:"10/1m"`
	RateLimitRegister  Rate   `env:"USERSVC_RATE_LIMIT_REGISTER" envDefault:"10/1h"`
	RateLimitPassword  Rate   `env:"USERSVC_RATE_LIMIT_PASSWORD" envDefault:"10/1h"`
	RateLimitRefresh   Rate   `env:"USERSVC_RATE_LIMIT_REFRESH" envDefault:"60/1m"`
	// RateLimitOAuthFailures is per client address, on the refused
	// requests of the OpenID provider's grants at /token and of
	// /oauth/introspect and /oauth/revoke (their successes are not
	// counted: one relying party exchanges codes for all its users).
	RateLimitOAuthFailures Rate `env:"USERSVC_RATE_LIMIT_OAUTH_FAILURES" envDefault:"30/1m"`
	// RateLimitWrite is per client address, shared by every route that
	// writes (and has no limit of its own); RateLimitWriteAcct the same
	// per account (per session on the routes that end sessions or change
	// the password, so that an intruder cannot use up the owner's).
	RateLimitWrite     Rate `env:"USERSVC_RATE_LIMIT_WRITE" envDefault:"60/1m"`
	RateLimitWriteAcct Rate `env:"USERSVC_RATE_LIMIT_WRITE_ACCOUNT" envDefault:"30/1m"`
	// RateLimitEmailChange is per account, on the changes of its email
	// (each probes whether an address is taken, and mails two).
	RateLimitEmailChange Rate `env:"USERSVC_RATE_LIMIT_EMAIL_CHANGE" envDefault:"5/1h"`
	// RateLimitExport is per account and, separately, per client address
	// on GET /users/me/export.
	RateLimitExport  Rate          `env:"USERSVC_RATE_LIMIT_EXPORT" envDefault:"6/1h"`
	LockoutThreshold int           `env:"USERSVC_LOGIN_LOCKOUT_THRESHOLD" envDefault:"10"`
	LockoutWindow    time.Duration `env:"USERSVC_LOGIN_LOCKOUT_WINDOW" envDefault:"15m"`
	LockoutCooldown  time.Duration `env:"USERSVC_LOGIN_LOCKOUT_COOLDOWN" envDefault:"15m"`
	SlowdownAfter    int           `env:"USERSVC_LOGIN_SLOWDOWN_AFTER" envDefault:"5"`
	SlowdownStep     time.Duration `env:"USERSVC_LOGIN_SLOWDOWN_STEP" envDefault:"1s"`
	// ClientLockoutThreshold wrong secrets for one confidential OAuth
	// client within ClientLockoutWindow lock it out, whatever secret it
	// sends, for ClientLockoutCooldown (ratelimit.ClientGuard).
	ClientLockoutThreshold int            `env:"USERSVC_CLIENT_LOCKOUT_THRESHOLD" envDefault:"10"`
	ClientLockoutWindow    time.Duration  `env:"USERSVC_CLIENT_LOCKOUT_WINDOW" envDefault:"15m"`
	ClientLockoutCooldown  time.Duration  `env:"USERSVC_CLIENT_LOCKOUT_COOLDOWN" envDefault:"15m"`
	RedisURL               string         `env:"REDIS_URL" secret:"url"`
	RedisPrefix            string         `env:"USERSVC_REDIS_PREFIX" envDefault:"usersvc:"`
	TrustedProxies         []netip.Prefix `env:"USERSVC_TRUSTED_PROXIES" envSeparator:","`
	PasswordMinLength      int            `env:"USERSVC_PASSWORD_MIN_LENGTH" envDefault:"8"`
	PasswordHash           string         `env:"USERSVC_PASSWORD_HASH" envDefault:"bcrypt"`
	Argon2MemoryKiB        uint32         `env:"USERSVC_ARGON2_MEMORY_KIB" envDefault:"19456"`
	Argon2Iterations       uint32         `env:"USERSVC_ARGON2_ITERATIONS" envDefault:"2"`
	Argon2Parallelism      uint8          `env:"USERSVC_ARGON2_PARALLELISM" envDefault:"1"`
	HashConcurrency        int            `env:"USERSVC_HASH_CONCURRENCY" envDefault:"0"`
	HashQueue              int            `env:"USERSVC_HASH_QUEUE" envDefault:"0"`
	HashMaxWait            time.Duration  `env:"USERSVC_HASH_MAX_WAIT" envDefault:"3s"`
}

// Password hashing schemes.
const (
	HashBcrypt   = "bcrypt"
	HashArgon2id = "argon2id"
)

// MaxFailuresPerHour is OWASP ASVS's ceiling on failed logins per account.
const MaxFailuresPerHour = 100

// MaxClientLockoutThreshold is the most wrong secrets a client lockout may
// wait for: beyond it, it hardly slows guessing down.
const MaxClientLockoutThreshold = 1000

// Switch is "on" or "off" (or true/false, 1/0).
type Switch bool

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Switch) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "on", "true", "1", "yes":
		*s = true
	case "off", "false", "0", "no":
		*s = false
	default:
		return fmt.Errorf("%q is neither on nor off", b)
	}
	return nil
}

// String is "on" or "off", as the variable is written.
func (s Switch) String() string {
	if s {
		return "on"
	}
	return "off"
}

// Rate is a limit such as "20/1m": 20 requests per minute. "off" or "0"
// switches it off.
type Rate struct {
	Limit  int
	Window time.Duration
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "off" || s == "0" {
		*r = Rate{}
		return nil
	}
	n, per, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(n)
	if !ok || err != nil || limit < 1 {
		return fmt.Errorf("%q is not a rate like 20/1m (requests/window) or off", s)
	}
	window, err := time.ParseDuration(per)
	if err != nil || window < time.Second || window > 24*time.Hour {
		return fmt.Errorf("%q: the window must be a duration from 1s to 24h, like 1m", s)
	}
	*r = Rate{Limit: limit, Window: window}
	return nil
}

// String is the rate as the variable is written ("20/1m0s"), or "off".
func (r Rate) String() string {
	if r.Limit == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Limit, r.Window)
}

func (a *Abuse) validate(env string, bad func(name, format string, args ...any)) {
	if a.LockoutThreshold < 1 {
		bad("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "must be at least 1, got %d", a.LockoutThreshold)
	}
	if a.LockoutWindow < time.Minute || a.LockoutWindow > 24*time.Hour {
		bad("USERSVC_LOGIN_LOCKOUT_WINDOW", "must be between 1m and 24h, got %s", a.LockoutWindow)
	}
	if a.LockoutCooldown < time.Minute || a.LockoutCooldown > 24*time.Hour {
		bad("USERSVC_LOGIN_LOCKOUT_COOLDOWN", "must be between 1m and 24h, got %s", a.LockoutCooldown)
	}
	if n := a.LockoutMaxPerHour(); a.LockoutThreshold >= 1 && n > MaxFailuresPerHour {
		bad("USERSVC_LOGIN_LOCKOUT_THRESHOLD", "with this window and cool-down lets %d failed logins an hour through; OWASP ASVS allows at most %d (lower the threshold or lengthen the window and cool-down)", n, MaxFailuresPerHour)
	}
	if a.ClientLockoutThreshold < 1 || a.ClientLockoutThreshold > MaxClientLockoutThreshold {
		bad("USERSVC_CLIENT_LOCKOUT_THRESHOLD", "must be between 1 and %d, got %d", MaxClientLockoutThreshold, a.ClientLockoutThreshold)
	}
	if a.ClientLockoutWindow < time.Minute || a.ClientLockoutWindow > 24*time.Hour {
		bad("USERSVC_CLIENT_LOCKOUT_WINDOW", "must be between 1m and 24h, got %s", a.ClientLockoutWindow)
	}
	if a.ClientLockoutCooldown < time.Minute || a.ClientLockoutCooldown > 24*time.Hour {
		bad("USERSVC_CLIENT_LOCKOUT_COOLDOWN", "must be between 1m and 24h, got %s", a.ClientLockoutCooldown)
	}
	if a.SlowdownAfter < 0 || a.SlowdownStep < 0 || a.SlowdownStep > 10*time.Second {
		bad("USERSVC_LOGIN_SLOWDOWN_STEP", "and USERSVC_LOGIN_SLOWDOWN_AFTER must not be negative, the step at most 10s")
	}
	checkURL(bad, "REDIS_URL", a.RedisURL, "empty (in-process limits) or a redis:// or rediss:// URL", "redis", "rediss")
	if a.PasswordMinLength < 8 || a.PasswordMinLength > 64 {
		bad("USERSVC_PASSWORD_MIN_LENGTH", "must be between 8 and 64, got %d", a.PasswordMinLength)
	}
	switch a.PasswordHash {
	case HashBcrypt:
	case HashArgon2id:
		a.validateArgon2(env, bad)
	default:
		bad("USERSVC_PASSWORD_HASH", "must be %q or %q, got %q", HashBcrypt, HashArgon2id, a.PasswordHash)
	}
	if a.HashConcurrency < 0 || a.HashQueue < 0 || a.HashMaxWait <= 0 {
		bad("USERSVC_HASH_CONCURRENCY", "USERSVC_HASH_CONCURRENCY and USERSVC_HASH_QUEUE must not be negative and USERSVC_HASH_MAX_WAIT must be positive")
	}
}

// validateArgon2 checks the argon2id parameters, each refusal naming its
// own variable.
func (a *Abuse) validateArgon2(env string, bad func(name, format string, args ...any)) {
	if a.Argon2MemoryKiB < 8*1024 || a.Argon2MemoryKiB > 4<<20 {
		bad("USERSVC_ARGON2_MEMORY_KIB", "must be between 8192 and 4194304 KiB, got %d", a.Argon2MemoryKiB)
	} else if env == Production && a.Argon2MemoryKiB < 19*1024 {
		bad("USERSVC_ARGON2_MEMORY_KIB", "production needs at least OWASP's 19456 KiB, got %d", a.Argon2MemoryKiB)
	}
	if a.Argon2Iterations < 1 || a.Argon2Iterations > 100 {
		bad("USERSVC_ARGON2_ITERATIONS", "must be between 1 and 100, got %d", a.Argon2Iterations)
	} else if env == Production && a.Argon2Iterations < 2 {
		bad("USERSVC_ARGON2_ITERATIONS", "production needs at least OWASP's 2, got %d", a.Argon2Iterations)
	}
	if a.Argon2Parallelism < 1 {
		bad("USERSVC_ARGON2_PARALLELISM", "must be at least 1, got %d", a.Argon2Parallelism)
	}
}

// LockoutMaxPerHour is the most failed logins one account can take in an
// hour under the lockout settings (see ratelimit.LockoutPolicy).
func (a *Abuse) LockoutMaxPerHour() int {
	shortest := min(a.LockoutWindow, a.LockoutCooldown)
	if shortest <= 0 {
		return 1 << 30
	}
	perHour := (time.Hour + shortest - 1) / shortest
	return a.LockoutThreshold * (int(perHour) + 1)
}
