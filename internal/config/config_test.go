package config

import (
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usersvc/usersvc/internal/security"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, "")
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := Config{
		Env: Development, Addr: ":8080", DataDir: "./data", MigrateOnStart: true,
		JWTIssuer: "usersvc", AccessTokenTTL: 30 * time.Minute, BcryptCost: 12,
		LogLevel: slog.LevelInfo, MaxBodyBytes: 65536, ShutdownTimeout: 15 * time.Second,
		OpsAddr: "127.0.0.1:9090", Docs: true,
		Abuse:     defaultAbuse,
		Tokens:    defaultTokens,
		Sessions:  defaultSessions,
		Retention: defaultRetention,
		Lifecycle: defaultLifecycle,
		Mail:      defaultMail,
		Events:    Events{EventsNATSStream: "USERSVC_EVENTS", JobsPollInterval: time.Second},
		Webhooks:  defaultWebhooks,
		Pages:     defaultUI,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	secret := hs256Secret
	c, err := Load([]string{
		"USERSVC_ENV=production",
		"USERSVC_ADDR=127.0.0.1:9000",
		"DATABASE_URL=postgres://u@db:5432/users",
		"USERSVC_DATA_DIR=/var/lib/usersvc",
		"USERSVC_MIGRATE_ON_START=false",
		"USERSVC_JWT_SECRET=" + secret,
		"USERSVC_JWT_ISSUER=https://auth.example.com",
		"USERSVC_ACCESS_TOKEN_TTL=15m",
		"USERSVC_BCRYPT_COST=11",
		"USERSVC_CORS_ORIGINS=https://app.example.com,http://localhost:3000",
		"USERSVC_LOG_LEVEL=debug",
		"USERSVC_MAX_BODY_BYTES=4096",
		"USERSVC_SHUTDOWN_TIMEOUT=5s",
		"USERSVC_JWT_AUDIENCE=https://api.example.com",
		"USERSVC_JWT_LEEWAY=10s",
		"USERSVC_JWT_ALG=ES256",
		"USERSVC_KEY_ENCRYPTION_KEY=" + kek,
		"USERSVC_OPS_ADDR=:9100",
		"USERSVC_DOCS=off",
		"USERSVC_INSECURE_OVERRIDES=http_cors_origin, log_mailer,localhost_links,http_links",
		"USERSVC_MAILER=log", // required in production: mail.go's tests read the rest
		"USERSVC_EVENTS_NATS_URL=nats://user:pw@nats:4222",
		"USERSVC_EVENTS_NATS_STREAM=ACCOUNTS",
		"USERSVC_JOBS_POLL_INTERVAL=250ms",
	}, "")
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := Config{
		Env: Production, Addr: "127.0.0.1:9000", DatabaseURL: "postgres://u@db:5432/users",
		DataDir: "/var/lib/usersvc", MigrateOnStart: false, JWTSecret: secret,
		JWTIssuer: "https://auth.example.com", AccessTokenTTL: 15 * time.Minute, BcryptCost: 11,
		CORSOrigins: []string{"https://app.example.com", "http://localhost:3000"},
		LogLevel:    slog.LevelDebug, MaxBodyBytes: 4096, ShutdownTimeout: 5 * time.Second,
		OpsAddr: ":9100", Docs: false,
		InsecureOverrides: []string{"http_cors_origin", " log_mailer", "localhost_links", "http_links"},
		Abuse:             defaultAbuse,
		Tokens:            Tokens{JWTAudience: "https://api.example.com", JWTLeeway: 10 * time.Second, JWTAlg: security.ES256, KeyEncryptionKey: kek, KeyPublishDelay: 20 * time.Minute},
		Sessions:          defaultSessions,
		Retention:         defaultRetention,
		Lifecycle:         defaultLifecycle,
		Mail:              defaultMail,
		Events:            Events{EventsNATSURL: "nats://user:pw@nats:4222", EventsNATSStream: "ACCOUNTS", JobsPollInterval: 250 * time.Millisecond},
		Webhooks:          defaultWebhooks,
		Pages:             defaultUI,
	}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreFields(Config{}, "Warnings")); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if len(c.Warnings) != 8 { // the CORS origin, the mailer, three links twice
		t.Errorf("Warnings = %q, want one per overridden setting (8)", c.Warnings)
	}
}

func TestLoadRejectsBadValuesNamingTheVariable(t *testing.T) {
	for _, tt := range []struct {
		name    string
		environ []string
		want    string // the variable the message must name
	}{
		{"unknown env", []string{"USERSVC_ENV=staging"}, "USERSVC_ENV"},
		{"bad duration", []string{"USERSVC_ACCESS_TOKEN_TTL=soon"}, "USERSVC_ACCESS_TOKEN_TTL"},
		{"leeway too long", []string{"USERSVC_JWT_LEEWAY=6m"}, "USERSVC_JWT_LEEWAY"},
		{"negative leeway", []string{"USERSVC_JWT_LEEWAY=-1s"}, "USERSVC_JWT_LEEWAY"},
		{"empty audience", []string{"USERSVC_JWT_AUDIENCE= "}, "USERSVC_JWT_AUDIENCE"},
		{"negative publish delay", []string{"USERSVC_KEY_PUBLISH_DELAY=-1m"}, "USERSVC_KEY_PUBLISH_DELAY"},
		{"publish delay over a day", []string{"USERSVC_KEY_PUBLISH_DELAY=25h"}, "USERSVC_KEY_PUBLISH_DELAY"},
		{"rotation every minute", []string{"USERSVC_KEY_ROTATE_EVERY=1m"}, "USERSVC_KEY_ROTATE_EVERY"},
		{"rotation within the publish delay", []string{"USERSVC_KEY_ROTATE_EVERY=2h", "USERSVC_KEY_PUBLISH_DELAY=3h"}, "USERSVC_KEY_ROTATE_EVERY"},
		{"public URL without scheme", []string{"USERSVC_PUBLIC_URL=auth.example.com"}, "USERSVC_PUBLIC_URL"},
		{"public URL with a query", []string{"USERSVC_PUBLIC_URL=https://auth.example.com/?a=b"}, "USERSVC_PUBLIC_URL"},
		{"public URL with credentials", []string{"USERSVC_PUBLIC_URL=https://u:p@auth.example.com"}, "USERSVC_PUBLIC_URL"},
		{"public URL of another scheme", []string{"USERSVC_PUBLIC_URL=ftp://auth.example.com"}, "USERSVC_PUBLIC_URL"},
		{"ttl too long", []string{"USERSVC_ACCESS_TOKEN_TTL=48h"}, "USERSVC_ACCESS_TOKEN_TTL"},
		{"cost not a number", []string{"USERSVC_BCRYPT_COST=high"}, "USERSVC_BCRYPT_COST"},
		{"cost out of range", []string{"USERSVC_BCRYPT_COST=3"}, "USERSVC_BCRYPT_COST"},
		{"weak cost in production", []string{"USERSVC_ENV=production", "USERSVC_JWT_SECRET=" + strings.Repeat("x", 32), "USERSVC_BCRYPT_COST=8"}, "USERSVC_BCRYPT_COST"},
		{"mysql url", []string{"DATABASE_URL=mysql://db/users"}, "DATABASE_URL"},
		{"short secret", []string{"USERSVC_JWT_SECRET=tooshort"}, "USERSVC_JWT_SECRET"},
		{"production HS256 without secret", []string{"USERSVC_ENV=production", "USERSVC_JWT_ALG=HS256"}, "USERSVC_JWT_SECRET"},
		{"production without key encryption key", []string{"USERSVC_ENV=production"}, "USERSVC_KEY_ENCRYPTION_KEY"},
		{"unknown alg", []string{"USERSVC_JWT_ALG=RS256"}, "USERSVC_JWT_ALG"},
		{"alg none", []string{"USERSVC_JWT_ALG=none"}, "USERSVC_JWT_ALG"},
		{"key encryption key not base64", []string{"USERSVC_KEY_ENCRYPTION_KEY=not base64!"}, "USERSVC_KEY_ENCRYPTION_KEY"},
		{"key encryption key too short", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 16))}, "USERSVC_KEY_ENCRYPTION_KEY"},
		{"production short secret", []string{"USERSVC_ENV=production", "USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + strings.Repeat("x", 31)}, "USERSVC_JWT_SECRET"},
		{"cors path", []string{"USERSVC_CORS_ORIGINS=https://app.example.com/login"}, "USERSVC_CORS_ORIGINS"},
		{"cors no scheme", []string{"USERSVC_CORS_ORIGINS=app.example.com"}, "USERSVC_CORS_ORIGINS"},
		{"log level", []string{"USERSVC_LOG_LEVEL=loud"}, "USERSVC_LOG_LEVEL"},
		{"body limit", []string{"USERSVC_MAX_BODY_BYTES=10"}, "USERSVC_MAX_BODY_BYTES"},
		{"body limit not a number", []string{"USERSVC_MAX_BODY_BYTES=1MB"}, "USERSVC_MAX_BODY_BYTES"},
		{"shutdown", []string{"USERSVC_SHUTDOWN_TIMEOUT=0s"}, "USERSVC_SHUTDOWN_TIMEOUT"},
		{"migrate flag", []string{"USERSVC_MIGRATE_ON_START=maybe"}, "USERSVC_MIGRATE_ON_START"},
		{"previous key not base64", []string{"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=not base64!"}, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS"},
		{"previous key too short", []string{"USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + base64.StdEncoding.EncodeToString(make([]byte, 16))}, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS"},
		{"previous key is the current one", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + strings.TrimRight(kek, "=")}, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS"},
		{"production previous key without a current one", []string{"USERSVC_ENV=production", "USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + hs256Secret, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + kek}, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS"},
		{"next key not base64", []string{"USERSVC_KEY_ENCRYPTION_KEY_NEXT=not base64!"}, "USERSVC_KEY_ENCRYPTION_KEY_NEXT"},
		{"next key is the current one", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_NEXT=" + kek}, "USERSVC_KEY_ENCRYPTION_KEY_NEXT"},
		{"next key beside a previous one", []string{"USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "USERSVC_KEY_ENCRYPTION_KEY_NEXT=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, "USERSVC_KEY_ENCRYPTION_KEY_NEXT"},
		{"production next key without a current one", []string{"USERSVC_ENV=production", "USERSVC_JWT_ALG=HS256", "USERSVC_JWT_SECRET=" + hs256Secret, "USERSVC_KEY_ENCRYPTION_KEY_NEXT=" + kek}, "USERSVC_KEY_ENCRYPTION_KEY_NEXT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.environ, "")
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want an error naming %s", tt.environ, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) error = %q, want it to name %s", tt.environ, err, tt.want)
			}
		})
	}
}

func TestLoadDotenvUnderEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	content := "USERSVC_ADDR=:7000\nUSERSVC_JWT_ISSUER=from-file\n# comment\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"USERSVC_JWT_ISSUER=from-env"}, path)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if c.Addr != ":7000" {
		t.Errorf("Addr = %q, want %q from the .env file", c.Addr, ":7000")
	}
	if c.JWTIssuer != "from-env" {
		t.Errorf("JWTIssuer = %q, want the environment's %q to win over the file", c.JWTIssuer, "from-env")
	}
}

func TestLoadMissingDotenvIsFine(t *testing.T) {
	if _, err := Load(nil, filepath.Join(t.TempDir(), "absent.env")); err != nil {
		t.Errorf("Load() with a missing .env error = %v, want nil", err)
	}
}

func TestLoadUnreadableDotenv(t *testing.T) {
	dir := t.TempDir() // a directory cannot be read as a file
	if _, err := Load(nil, dir); err == nil {
		t.Error("Load() with a directory as .env succeeded, want an error")
	}
}

func TestDevSecretIsCreatedOnceWithMode0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, created, err := DevSecret(dir)
	if err != nil || !created {
		t.Fatalf("DevSecret() = created %v, err %v; want a new secret", created, err)
	}
	if len(first) < security.MinSecretBytes {
		t.Errorf("secret has %d bytes, want at least %d", len(first), security.MinSecretBytes)
	}
	info, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", perm)
	}
	again, created, err := DevSecret(dir)
	if err != nil || created {
		t.Fatalf("second DevSecret() = created %v, err %v; want the stored secret", created, err)
	}
	if string(again) != string(first) {
		t.Error("second DevSecret() returned a different secret, want the stored one")
	}
}

func TestDevSecretRefusesShortFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SecretFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DevSecret(dir); err == nil {
		t.Error("DevSecret() with a 5-byte file succeeded, want an error")
	}
}

func TestDevSecretUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DevSecret(filepath.Join(file, "data")); err == nil {
		t.Error("DevSecret() under a regular file succeeded, want an error")
	}
}

// defaultTokens is Tokens when no variable sets it.
var defaultTokens = Tokens{JWTAudience: "usersvc", JWTLeeway: 30 * time.Second, JWTAlg: security.EdDSA, KeyPublishDelay: 20 * time.Minute}

// kek is a valid USERSVC_KEY_ENCRYPTION_KEY that production accepts: 32
// distinct bytes.
var kek = base64.StdEncoding.EncodeToString([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"))

// hs256Secret is a USERSVC_JWT_SECRET that production accepts, like one
// `openssl rand -base64 48` makes.
const hs256Secret = "q8Vb3xN0kLr7Tz2WfYp9HsAe5JmC1uDg6OiR4nKtXwQvZcB8yElMhUaSjFoGdPy0"

func TestKeyEncryptionKey(t *testing.T) {
	raw := []byte(strings.Repeat("z", 32))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		got, err := (&Tokens{KeyEncryptionKey: enc.EncodeToString(raw)}).KeyEncryptionKeyBytes()
		if err != nil || string(got) != string(raw) {
			t.Errorf("KeyEncryptionKeyBytes() = %q, %v; want the 32 bytes, nil", got, err)
		}
	}
	dir := t.TempDir()
	first, created, err := DevKeyEncryptionKey(dir)
	if err != nil || !created || len(first) != 32 {
		t.Fatalf("DevKeyEncryptionKey() = %d bytes, created %v, %v; want 32, true, nil", len(first), created, err)
	}
	info, err := os.Stat(filepath.Join(dir, KeyEncryptionKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	again, created, err := DevKeyEncryptionKey(dir)
	if err != nil || created || string(again) != string(first) {
		t.Errorf("DevKeyEncryptionKey() again = created %v, %v, same %v; want the same key", created, err, string(again) == string(first))
	}
	if err := os.WriteFile(filepath.Join(dir, KeyEncryptionKeyFile), []byte(strings.Repeat("a", 40)+"!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DevKeyEncryptionKey(dir); err == nil {
		t.Error("DevKeyEncryptionKey(corrupt file) succeeded, want an error")
	}
}

func TestLoadOpsAddrAndDocs(t *testing.T) {
	for _, tt := range []struct {
		environ []string
		ops     string
		docs    Switch
	}{
		{nil, "127.0.0.1:9090", true},
		{[]string{"USERSVC_OPS_ADDR=off", "USERSVC_DOCS=off"}, "", false},
		{[]string{"USERSVC_OPS_ADDR=:9100"}, ":9100", true},
		{[]string{"USERSVC_OPS_ADDR=[::1]:0"}, "[::1]:0", true},
	} {
		c, err := Load(tt.environ, "")
		if err != nil || c.OpsAddr != tt.ops || c.Docs != tt.docs {
			t.Errorf("Load(%q) = ops %q, docs %v, %v; want %q, %v, nil", tt.environ, c.OpsAddr, c.Docs, err, tt.ops, tt.docs)
		}
	}
	for _, set := range []string{"USERSVC_OPS_ADDR=9090", "USERSVC_OPS_ADDR=localhost:metrics", "USERSVC_OPS_ADDR=127.0.0.1:70000", "USERSVC_DOCS=maybe"} {
		name, _, _ := strings.Cut(set, "=")
		if _, err := Load([]string{set}, ""); err == nil || !strings.Contains(err.Error(), name+": ") {
			t.Errorf("Load(%s) error = %v, want one naming %s", set, err, name)
		}
	}
}

// TestPublicURLSetsTheIssuer: the public URL, its trailing slash dropped,
// is the default issuer; an issuer set explicitly wins.
func TestPublicURLSetsTheIssuer(t *testing.T) {
	for _, tt := range []struct {
		environ          []string
		wantURL, wantIss string
	}{
		{nil, "", DefaultIssuer},
		{[]string{"USERSVC_PUBLIC_URL=https://auth.example.com/"}, "https://auth.example.com", "https://auth.example.com"},
		{[]string{"USERSVC_PUBLIC_URL=https://example.com/auth"}, "https://example.com/auth", "https://example.com/auth"},
		{[]string{"USERSVC_PUBLIC_URL=https://auth.example.com", "USERSVC_JWT_ISSUER=legacy"}, "https://auth.example.com", "legacy"},
	} {
		c, err := Load(tt.environ, "")
		if err != nil {
			t.Fatalf("Load(%q): %v", tt.environ, err)
		}
		if c.PublicURL != tt.wantURL || c.JWTIssuer != tt.wantIss {
			t.Errorf("Load(%q): public URL %q, issuer %q; want %q, %q", tt.environ, c.PublicURL, c.JWTIssuer, tt.wantURL, tt.wantIss)
		}
	}
}

// TestKeyRotationSettings reads the publish delay and the schedule.
func TestKeyRotationSettings(t *testing.T) {
	c, err := Load([]string{"USERSVC_KEY_PUBLISH_DELAY=30m", "USERSVC_KEY_ROTATE_EVERY=720h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyPublishDelay != 30*time.Minute || c.KeyRotateEvery != 720*time.Hour {
		t.Errorf("delay %s, every %s; want 30m, 720h", c.KeyPublishDelay, c.KeyRotateEvery)
	}
}

// TestPublicURLOnAnIPTurnsPasskeysOff: WebAuthn binds a passkey to a
// domain name, so a public URL on an IP address switches passkeys off
// with a warning, and the configuration loads (the service starts).
func TestPublicURLOnAnIPTurnsPasskeysOff(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://[2001:db8::1]", true},
		{"https://auth.example.com", false},
		{"http://localhost:8080", false},
		{"", false},
	} {
		c, err := Load([]string{"USERSVC_PUBLIC_URL=" + tt.url}, "")
		if err != nil {
			t.Fatalf("Load(USERSVC_PUBLIC_URL=%q) = %v, want it loaded", tt.url, err)
		}
		warned := slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "passkeys are off") })
		if c.NoPasskeys != tt.want || warned != tt.want {
			t.Errorf("USERSVC_PUBLIC_URL=%q: NoPasskeys %v, warned %v (%q); want %v", tt.url, c.NoPasskeys, warned, c.Warnings, tt.want)
		}
	}
}
