// Package config loads usersvc's settings from the environment and an
// optional .env file, and validates them before anything starts.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// Environments usersvc knows.
const (
	Development = "development"
	Production  = "production"
)

// MinSecretBytes is the shortest JWT secret accepted.
const MinSecretBytes = 32

// Config is every setting, typed. The env tags are the variable names that
// deployments rely on; .env.example documents each.
type Config struct {
	Env             string        `env:"USERSVC_ENV" envDefault:"development"`
	Addr            string        `env:"USERSVC_ADDR" envDefault:":8080"`
	DatabaseURL     string        `env:"DATABASE_URL"`
	DataDir         string        `env:"USERSVC_DATA_DIR" envDefault:"./data"`
	MigrateOnStart  bool          `env:"USERSVC_MIGRATE_ON_START" envDefault:"true"`
	JWTSecret       string        `env:"USERSVC_JWT_SECRET"`
	JWTIssuer       string        `env:"USERSVC_JWT_ISSUER" envDefault:"usersvc"`
	AccessTokenTTL  time.Duration `env:"USERSVC_ACCESS_TOKEN_TTL" envDefault:"30m"`
	BcryptCost      int           `env:"USERSVC_BCRYPT_COST" envDefault:"12"`
	CORSOrigins     []string      `env:"USERSVC_CORS_ORIGINS" envSeparator:","`
	LogLevel        slog.Level    `env:"USERSVC_LOG_LEVEL" envDefault:"info"`
	MaxBodyBytes    int64         `env:"USERSVC_MAX_BODY_BYTES" envDefault:"65536"`
	ShutdownTimeout time.Duration `env:"USERSVC_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// PprofAddr, when set, serves net/http/pprof there; loopback only.
	PprofAddr string `env:"USERSVC_PPROF_ADDR"`
	Abuse            // rate limits, lockout, password policy, hashing bounds: abuse.go
	Tokens           // audience, leeway, signing algorithm and keys: tokens.go
	Sessions         // refresh tokens and sessions: sessions.go
	Lifecycle        // email verification and password reset: lifecycle.go
	Mail             // account mail: mailer, SMTP, links: mail.go
	Bootstrap        // the first administrator, created at start: bootstrap.go
}

// Load reads the settings from environ (KEY=value pairs, as os.Environ
// gives) over those of the dotenv file, when that path is not empty and the
// file exists. The environment wins over the file; an empty value counts as
// unset, so its default applies. The error names every
// variable that is wrong and says why.
func Load(environ []string, dotenv string) (Config, error) {
	vars := map[string]string{}
	if dotenv != "" {
		fileVars, err := godotenv.Read(dotenv)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return Config{}, fmt.Errorf("read %s: %w", dotenv, err)
		default:
			vars = fileVars
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		return Config{}, nameVariables(err)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if c.Env != Development && c.Env != Production {
		bad("USERSVC_ENV", "must be %q or %q, got %q", Development, Production, c.Env)
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", "must be empty (embedded SQLite) or a postgres:// URL")
		}
	}
	switch {
	case c.JWTSecret != "" && len(c.JWTSecret) < MinSecretBytes:
		bad("USERSVC_JWT_SECRET", "must be at least %d bytes, got %d", MinSecretBytes, len(c.JWTSecret))
	case c.JWTSecret == "" && c.Env == Production && c.JWTAlg == AlgHS256:
		bad("USERSVC_JWT_SECRET", "is required in production with USERSVC_JWT_ALG=HS256 (at least %d random bytes)", MinSecretBytes)
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		bad("USERSVC_ACCESS_TOKEN_TTL", "must be between 1m and 24h, got %s", c.AccessTokenTTL)
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		bad("USERSVC_BCRYPT_COST", "must be between 4 and 31, got %d", c.BcryptCost)
	} else if c.Env == Production && c.BcryptCost < 10 {
		bad("USERSVC_BCRYPT_COST", "must be at least 10 in production, got %d", c.BcryptCost)
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			bad("USERSVC_CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
		}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		bad("USERSVC_MAX_BODY_BYTES", "must be between 1024 and 16777216, got %d", c.MaxBodyBytes)
	}
	if c.ShutdownTimeout <= 0 {
		bad("USERSVC_SHUTDOWN_TIMEOUT", "must be positive, got %s", c.ShutdownTimeout)
	}
	c.Abuse.validate(c.Env, bad)
	c.Tokens.validate(c.Env, bad)
	c.Sessions.validate(bad)
	c.Lifecycle.validate(bad)
	c.Mail.validate(c.Env, bad)
	c.Bootstrap.validate(bad)
	return errors.Join(errs...)
}

// nameVariables rewrites the env library's parse errors, which name Go
// fields, so that they name the environment variable instead.
func nameVariables(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Config]()
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",") // drop ",unset"
				e = fmt.Errorf("%s: cannot parse as %s: %w", name, pe.Type, pe.Err)
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
