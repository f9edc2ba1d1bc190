package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://usersvc:Db-Secret@db:5432/usersvc?sslmode=require", "postgres://usersvc:xxxxx@db:5432/usersvc?sslmode=require"},
		{"rediss://:Redis-Secret@cache:6379/0", "rediss://:xxxxx@cache:6379/0"},
		{"postgres://db/usersvc?user=u&password=Db-Secret", "postgres://db/usersvc?password=xxxxx&user=u"},
		{"postgres://db/usersvc?sslpassword=Db-Secret", "postgres://db/usersvc?sslpassword=xxxxx"},
		{"postgres://usersvc@db/usersvc", "postgres://usersvc@db/usersvc"},
		{"postgres://u:Db%zzSecret@db/x", "(not a valid URL; not shown, as it may hold a password)"},
		{"postgres:u:Db-Secret@db", "(not a valid URL; not shown, as it may hold a password)"},
		{"host=db password=Db-Secret", "(not a valid URL; not shown, as it may hold a password)"},
		// NATS takes a user without a password as its auth token.
		{"nats://Nats-Token@nats:4222", "nats://xxxxx@nats:4222"},
		{"tls://Nats-Token@nats:4222", "tls://xxxxx@nats:4222"},
		{"nats://u:Nats-Secret@nats:4222", "nats://u:xxxxx@nats:4222"},
		{"", ""},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A refused URL is shown so the operator sees what is wrong, its password
// masked.
func TestBadURLErrorMasksThePassword(t *testing.T) {
	for _, tt := range []struct{ set, name, shown string }{
		{"DATABASE_URL=mysql://usersvc:Db-Secret@db/users", "DATABASE_URL", "mysql://usersvc:xxxxx@db/users"},
		{"REDIS_URL=http://:Db-Secret@cache:6379", "REDIS_URL", "http://:xxxxx@cache:6379"},
		{"DATABASE_URL=postgres://u:Db-Secret@db:port/x", "DATABASE_URL", "not a valid URL"},
		// libpq's keyword/value form, which pgx accepts elsewhere: no URL
		// at all, so no way to tell where its password is.
		{"DATABASE_URL=host=db user=usersvc password=Db-Secret dbname=usersvc", "DATABASE_URL", "not a valid URL"},
		{"REDIS_URL=cache:6379?password=Db-Secret", "REDIS_URL", "not a valid URL"},
	} {
		_, err := Load([]string{tt.set}, "")
		if err == nil || !strings.Contains(err.Error(), tt.name+": ") || !strings.Contains(err.Error(), tt.shown) {
			t.Errorf("Load(%s) error = %v, want one naming %s and showing %q", tt.name, err, tt.name, tt.shown)
		} else if strings.Contains(err.Error(), "Db-Secret") {
			t.Errorf("Load(%s) error %q shows the password", tt.name, err)
		}
	}
}

// previousKEK is a USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS other than kek.
var previousKEK = base64.StdEncoding.EncodeToString([]byte("previous-key-encryption-key-0123"))

// A Config logged or printed, by design or by mistake, shows every
// setting but no secret.
func TestConfigShowsNoSecret(t *testing.T) {
	c, err := Load([]string{
		"USERSVC_JWT_SECRET=" + hs256Secret, "USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + previousKEK,
		"DATABASE_URL=postgres://usersvc:Db-Secret@db/usersvc", "REDIS_URL=redis://:Redis-Secret@cache",
		"USERSVC_SMTP_USERNAME=mailer", "USERSVC_SMTP_PASSWORD=Smtp-Secret",
		"USERSVC_BOOTSTRAP_ADMIN_EMAIL=root@example.com", "USERSVC_BOOTSTRAP_ADMIN_USERNAME=root", "USERSVC_BOOTSTRAP_ADMIN_PASSWORD=Admin-Secret",
		"USERSVC_EVENTS_NATS_URL=nats://Nats-Token@nats:4222",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "config", c)
	for name, shown := range map[string]string{
		"slog": logged.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "%s": fmt.Sprint(c),
	} {
		for _, secret := range []string{hs256Secret, kek, previousKEK, "Db-Secret", "Redis-Secret", "Smtp-Secret", "Admin-Secret", "Nats-Token"} {
			if strings.Contains(shown, secret) {
				t.Errorf("%s shows a secret: %s", name, shown)
			}
		}
		for _, want := range []string{"USERSVC_ADDR", ":8080", "postgres://usersvc:xxxxx@db/usersvc", "root@example.com"} {
			if !strings.Contains(shown, want) {
				t.Errorf("%s does not show %q: %s", name, want, shown)
			}
		}
	}
}

// Settings are shown as they are written in the environment.
func TestSettingsShownAsWritten(t *testing.T) {
	c, err := Load([]string{"USERSVC_RATE_LIMIT_REGISTER=off", "USERSVC_DOCS=off"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`USERSVC_RATE_LIMITS="on"`, `USERSVC_RATE_LIMIT_LOGIN="20/1m0s"`, `USERSVC_RATE_LIMIT_REGISTER="off"`, `USERSVC_DOCS="off"`} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks %s: %s", want, c)
		}
	}
}

// A rotation under way is heard about at every start, without the keys.
func TestPreviousKeyIsAWarning(t *testing.T) {
	c, err := Load([]string{"USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS=" + previousKEK}, "")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(c.Warnings, "\n")
	if !strings.Contains(joined, "USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS is set") || !strings.Contains(joined, "usersvc keys reseal") {
		t.Errorf("Warnings = %q, want one saying the previous key is set and to reseal", c.Warnings)
	}
	if strings.Contains(joined, kek) || strings.Contains(joined, previousKEK) {
		t.Errorf("Warnings show a key: %q", c.Warnings)
	}
}

// The first roll of a rotation is heard about at every start too, with
// the step that comes next, without the keys.
func TestNextKeyIsAWarning(t *testing.T) {
	c, err := Load([]string{"USERSVC_KEY_ENCRYPTION_KEY=" + kek, "USERSVC_KEY_ENCRYPTION_KEY_NEXT=" + previousKEK}, "")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(c.Warnings, "\n")
	if !strings.Contains(joined, "USERSVC_KEY_ENCRYPTION_KEY_NEXT is set") || !strings.Contains(joined, "as USERSVC_KEY_ENCRYPTION_KEY_PREVIOUS") {
		t.Errorf("Warnings = %q, want one saying the next key is set and what comes next", c.Warnings)
	}
	if strings.Contains(joined, kek) || strings.Contains(joined, previousKEK) || strings.Contains(c.String(), previousKEK) {
		t.Errorf("Warnings or String() show a key: %q", c.Warnings)
	}
}
