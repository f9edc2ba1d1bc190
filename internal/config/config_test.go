package config

import (
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
		Abuse:     defaultAbuse,
		Tokens:    defaultTokens,
		Sessions:  defaultSessions,
		Lifecycle: defaultLifecycle,
		Mail:      defaultMail,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	secret := strings.Repeat("s", 40)
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
		"USERSVC_MAILER=log", // required in production: mail.go's tests read the rest
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
		Abuse:     defaultAbuse,
		Tokens:    Tokens{JWTAudience: "https://api.example.com", JWTLeeway: 10 * time.Second, JWTAlg: AlgES256, KeyEncryptionKey: kek},
		Sessions:  defaultSessions,
		Lifecycle: defaultLifecycle,
		Mail:      defaultMail,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
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
	if len(first) < MinSecretBytes {
		t.Errorf("secret has %d bytes, want at least %d", len(first), MinSecretBytes)
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
var defaultTokens = Tokens{JWTAudience: "usersvc", JWTLeeway: 30 * time.Second, JWTAlg: AlgEdDSA}

// kek is a valid USERSVC_KEY_ENCRYPTION_KEY.
var kek = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

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
