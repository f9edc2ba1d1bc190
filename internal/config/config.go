// Package config loads usersvc's settings from the environment and an
// optional .env file, and validates them before anything starts.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"github.com/usersvc/usersvc/internal/security"
)

// Environments usersvc knows.
const (
	Development = "development"
	Production  = "production"
)

// Config is every setting, typed. The env tags are the variable names that
// deployments rely on; .env.example documents each.
type Config struct {
	Env             string        `env:"USERSVC_ENV" envDefault:"development"`
	Addr            string        `env:"USERSVC_ADDR" envDefault:":8080"`
	DatabaseURL     string        `env:"DATABASE_URL" secret:"url"`
	DataDir         string        `env:"USERSVC_DATA_DIR" envDefault:"./data"`
	MigrateOnStart  bool          `env:"USERSVC_MIGRATE_ON_START" envDefault:"true"`
	JWTSecret       string        `env:"USERSVC_JWT_SECRET" secret:"true"`
	JWTIssuer       string        `env:"USERSVC_JWT_ISSUER"` // default: PublicURL, else DefaultIssuer
	AccessTokenTTL  time.Duration `env:"USERSVC_ACCESS_TOKEN_TTL" envDefault:"30m"`
	BcryptCost      int           `env:"USERSVC_BCRYPT_COST" envDefault:"12"`
	CORSOrigins     []string      `env:"USERSVC_CORS_ORIGINS" envSeparator:","`
	LogLevel        slog.Level    `env:"USERSVC_LOG_LEVEL" envDefault:"info"`
	MaxBodyBytes    int64         `env:"USERSVC_MAX_BODY_BYTES" envDefault:"65536"`
	ShutdownTimeout time.Duration `env:"USERSVC_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// PprofAddr, when set, serves net/http/pprof there; loopback only.
	PprofAddr string `env:"USERSVC_PPROF_ADDR"`
	// OpsAddr is the operations listener's host:port, for /metrics (and
	// pprof when enabled), kept off the public port; empty when
	// USERSVC_OPS_ADDR=off.
	OpsAddr string `env:"USERSVC_OPS_ADDR" envDefault:"127.0.0.1:9090"`
	// Docs says whether /docs and /openapi.* are served.
	Docs Switch `env:"USERSVC_DOCS" envDefault:"on"`
	// InsecureOverrides names the unsafe settings production lets through
	// (see Overrides); each one in use is a warning at every start.
	InsecureOverrides []string `env:"USERSVC_INSECURE_OVERRIDES" envSeparator:","`
	// PublicURL is the service's external base URL (https://auth.example.com),
	// without a trailing slash: the default issuer and the base of every
	// absolute link the service writes (discovery metadata). Empty: none.
	PublicURL string `env:"USERSVC_PUBLIC_URL"`

	Abuse     // rate limits, lockout, password policy, hashing bounds: abuse.go
	Tokens    // audience, leeway, signing algorithm and keys: tokens.go
	Sessions  // refresh tokens and sessions: sessions.go
	Retention // what the database keeps, sessions per account: retention.go
	Lifecycle // email verification and password reset: lifecycle.go
	Mail      // account mail: mailer, SMTP, links: mail.go
	Bootstrap // the first administrator, created at start: bootstrap.go
	Events    // the job queue and the NATS event sink: events.go
	Webhooks  // outbound webhooks: webhooks.go
	Pages     // the hosted pages: ui.go

	// NoPasskeys says passkeys are off because USERSVC_PUBLIC_URL is on an
	// IP address: WebAuthn binds a passkey to a domain name, so there is no
	// relying party. The service starts (passkeys answer 503) and Load
	// warns. Not a variable.
	NoPasskeys bool

	// Warnings are what Load let through but the operator must hear about:
	// log each at warning level at every start. Not a variable.
	Warnings []string
}

// DefaultIssuer is the tokens' issuer when neither USERSVC_JWT_ISSUER nor
// USERSVC_PUBLIC_URL is set.
const DefaultIssuer = "usersvc"

// Off is the value that switches USERSVC_OPS_ADDR off.
const Off = "off"

// Load reads the settings from environ (KEY=value pairs, as os.Environ
// gives) over those of the dotenv file, when that path is not empty and the
// file exists. The environment wins over the file; an empty value counts as
// unset, so its default applies. A secret variable may instead name a file
// holding its value in NAME_FILE. The error names every variable that is
// wrong and says why, never a secret's value. In production, unsafe
// settings and unknown USERSVC_* variables are refused too; in development
// the unknown variables, and in production the unsafe settings that
// USERSVC_INSECURE_OVERRIDES allows, come back in Config.Warnings.
func Load(environ []string, dotenv string) (Config, error) {
	vars, err := readVars(environ, dotenv)
	if err != nil {
		return Config{}, err
	}
	unknown := unknownVariables(vars)
	fail := func(err error) (Config, error) { // a typo may explain the error: show both
		errs := []error{err}
		for _, note := range unknown {
			errs = append(errs, errors.New(note))
		}
		return Config{}, errors.Join(errs...)
	}
	if err := readSecretFiles(vars); err != nil {
		return fail(err)
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		return fail(nameVariables(err))
	}
	errs := []error{c.validate()}
	var unsafe []unsafeSetting
	if c.Env == Production {
		unsafe = c.unsafeSettings()
	}
	overrideErrs, warnings := c.applyOverrides(unsafe)
	errs = append(errs, overrideErrs...)
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if c.Env == Production && len(unknown) > 0 {
		return fail(errors.New("production refuses unknown variables: remove or rename them"))
	}
	c.Warnings = append(unknown, warnings...)
	if c.NoPasskeys = publicURLOnIP(c.PublicURL); c.NoPasskeys {
		c.Warnings = append(c.Warnings, fmt.Sprintf("USERSVC_PUBLIC_URL %q is an IP address: passkeys are off (WebAuthn binds a passkey to a domain name; they answer 503 until the URL names one)", c.PublicURL))
	}
	if c.KeyEncryptionKeyPrevious != "" {
		c.Warnings = append(c.Warnings, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS is set: the key-encryption key is being rotated; once every replica runs with the new key, run `usersvc keys reseal`, then remove it")
	}
	if c.KeyEncryptionKeyNext != "" {
		c.Warnings = append(c.Warnings, "USERSVC_KEY_ENCRYPTION_KEY_NEXT is set: the key-encryption key is being rotated; once every replica runs with it, deploy it as USERSVC_KEY_ENCRYPTION_KEY and the key in use now as USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS")
	}
	return c, nil
}

// publicURLOnIP reports whether the public URL's host is an IP address
// (the rule of Config.NoPasskeys).
func publicURLOnIP(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return publicURL != "" && err == nil && net.ParseIP(u.Hostname()) != nil
}

// readVars merges the dotenv file (when there is one) and environ, the
// environment winning.
func readVars(environ []string, dotenv string) (map[string]string, error) {
	vars := map[string]string{}
	if dotenv != "" {
		fileVars, err := godotenv.Read(dotenv)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case errors.As(err, new(*fs.PathError)):
			return nil, fmt.Errorf("read %s: %w", dotenv, err)
		case err != nil: // the parser's message quotes the file, secrets included
			return nil, fmt.Errorf("%s: cannot parse: a line is not NAME=value or a quote is not closed (the file is not shown: it may hold secrets)", dotenv)
		default:
			vars = fileVars
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	if c.Env != Development && c.Env != Production {
		bad("USERSVC_ENV", "must be %q or %q, got %q", Development, Production, c.Env)
	}
	checkURL(bad, "DATABASE_URL", c.DatabaseURL, "empty (embedded SQLite) or a postgres:// URL", "postgres", "postgresql")
	c.checkPublicURL(bad)
	if c.OpsAddr == Off {
		c.OpsAddr = ""
	} else {
		checkHostPort(bad, "USERSVC_OPS_ADDR", c.OpsAddr)
	}
	switch {
	case c.JWTSecret != "" && len(c.JWTSecret) < security.MinSecretBytes:
		bad("USERSVC_JWT_SECRET", "must be at least %d bytes, got %d", security.MinSecretBytes, len(c.JWTSecret))
	case c.JWTSecret == "" && c.Env == Production && c.JWTAlg == security.HS256:
		bad("USERSVC_JWT_SECRET", "is required in production with USERSVC_JWT_ALG=HS256 (at least %d random bytes)", security.MinSecretBytes)
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
	c.Retention.validate(bad)
	c.Lifecycle.validate(bad)
	c.defaultLinks() // ui.go
	c.Mail.validate(c.Env, bad)
	c.Bootstrap.validate(bad)
	c.Events.validate(bad)
	c.Webhooks.validate(bad)
	c.Pages.validate(c.Env, bad)
	return errors.Join(errs...)
}

// checkURL refuses a value that is set but not a URL of one of schemes;
// the message shows it with its passwords masked (Redact).
func checkURL(bad func(name, format string, args ...any), name, value, want string, schemes ...string) {
	if value == "" {
		return
	}
	if u, err := url.Parse(value); err != nil || !slices.Contains(schemes, u.Scheme) {
		bad(name, "must be %s, got %q", want, Redact(value))
	}
}

// checkPublicURL refuses a USERSVC_PUBLIC_URL that is not an absolute
// http(s) URL without query, fragment or credentials, drops its trailing
// slash, and makes it the default issuer.
func (c *Config) checkPublicURL(bad func(name, format string, args ...any)) {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.PublicURL, "?") || strings.HasSuffix(c.PublicURL, "#") {
			bad("USERSVC_PUBLIC_URL", "must be the service's external base URL, like https://auth.example.com (no query, fragment or credentials), got %q", Redact(c.PublicURL))
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if c.JWTIssuer == "" {
		c.JWTIssuer = DefaultIssuer
		if c.PublicURL != "" {
			c.JWTIssuer = c.PublicURL
		}
	}
}

// checkHostPort refuses an address that is not host:port with a numeric
// port (the host may be empty: every interface).
func checkHostPort(bad func(name, format string, args ...any), name, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		bad(name, "must be host:port like 127.0.0.1:9090, or %s, got %q", Off, addr)
	}
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
