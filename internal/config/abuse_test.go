package config

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// defaultAbuse is what Load gives when no abuse variable is set.
var defaultAbuse = Abuse{
	RateLimits:             true,
	RateLimitLogin:         Rate{20, time.Minute},
	RateLimitLoginAcct:     Rate{10, time.Minute},
	RateLimitRegister:      Rate{10, time.Hour},
	RateLimitPassword:      Rate{10, time.Hour},
	RateLimitRefresh:       Rate{60, time.Minute},
	RateLimitOAuthFailures: Rate{30, time.Minute},
	RateLimitWrite:         Rate{60, time.Minute}, RateLimitWriteAcct: Rate{30, time.Minute},
	RateLimitEmailChange: Rate{5, time.Hour}, RateLimitExport: Rate{6, time.Hour},
	LockoutThreshold: 10, LockoutWindow: 15 * time.Minute, LockoutCooldown: 15 * time.Minute,
	SlowdownAfter: 5, SlowdownStep: time.Second,
	ClientLockoutThreshold: 10, ClientLockoutWindow: 15 * time.Minute, ClientLockoutCooldown: 15 * time.Minute,
	RedisPrefix:       "usersvc:",
	PasswordMinLength: 8, PasswordHash: HashBcrypt,
	Argon2MemoryKiB: 19456, Argon2Iterations: 2, Argon2Parallelism: 1,
	HashMaxWait: 3 * time.Second,
}

func TestLoadReadsEveryAbuseVariable(t *testing.T) {
	c, err := Load([]string{
		"USERSVC_RATE_LIMITS=off",
		"USERSVC_RATE_LIMIT_LOGIN=5/30s",
		"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT=3/1m",
		"USERSVC_RATE_LIMIT_REGISTER=off",
		"USERSVC_RATE_LIMIT_PASSWORD=2/1h",
		"USERSVC_RATE_LIMIT_REFRESH=0",
		"USERSVC_RATE_LIMIT_OAUTH_FAILURES=5/1m",
		"USERSVC_RATE_LIMIT_WRITE=100/1m",
		"USERSVC_RATE_LIMIT_WRITE_ACCOUNT=off",
		"USERSVC_RATE_LIMIT_EMAIL_CHANGE=3/24h",
		"USERSVC_RATE_LIMIT_EXPORT=2/1h",
		"USERSVC_LOGIN_LOCKOUT_THRESHOLD=5",
		"USERSVC_LOGIN_LOCKOUT_WINDOW=30m",
		"USERSVC_LOGIN_LOCKOUT_COOLDOWN=20m",
		"USERSVC_LOGIN_SLOWDOWN_AFTER=3",
		"USERSVC_LOGIN_SLOWDOWN_STEP=500ms",
		"USERSVC_CLIENT_LOCKOUT_THRESHOLD=20",
		"USERSVC_CLIENT_LOCKOUT_WINDOW=1h",
		"USERSVC_CLIENT_LOCKOUT_COOLDOWN=30m",
		"REDIS_URL=redis://cache:6379/0",
		"USERSVC_REDIS_PREFIX=svc-a:",
		"USERSVC_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8",
		"USERSVC_PASSWORD_MIN_LENGTH=12",
		"USERSVC_PASSWORD_HASH=argon2id",
		"USERSVC_ARGON2_MEMORY_KIB=65536",
		"USERSVC_ARGON2_ITERATIONS=3",
		"USERSVC_ARGON2_PARALLELISM=2",
		"USERSVC_HASH_CONCURRENCY=4",
		"USERSVC_HASH_QUEUE=16",
		"USERSVC_HASH_MAX_WAIT=1500ms",
	}, "")
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := Abuse{
		RateLimits:             false,
		RateLimitLogin:         Rate{5, 30 * time.Second},
		RateLimitLoginAcct:     Rate{3, time.Minute},
		RateLimitPassword:      Rate{2, time.Hour},
		RateLimitOAuthFailures: Rate{5, time.Minute},
		RateLimitWrite:         Rate{100, time.Minute}, RateLimitEmailChange: Rate{3, 24 * time.Hour}, RateLimitExport: Rate{2, time.Hour},
		LockoutThreshold: 5, LockoutWindow: 30 * time.Minute, LockoutCooldown: 20 * time.Minute,
		SlowdownAfter: 3, SlowdownStep: 500 * time.Millisecond,
		ClientLockoutThreshold: 20, ClientLockoutWindow: time.Hour, ClientLockoutCooldown: 30 * time.Minute,
		RedisURL: "redis://cache:6379/0", RedisPrefix: "svc-a:",
		TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
		PasswordMinLength: 12, PasswordHash: HashArgon2id,
		Argon2MemoryKiB: 65536, Argon2Iterations: 3, Argon2Parallelism: 2,
		HashConcurrency: 4, HashQueue: 16, HashMaxWait: 1500 * time.Millisecond,
	}
	if diff := cmp.Diff(want, c.Abuse, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("abuse settings (-want +got):\n%s", diff)
	}
}

func TestLoadRejectsBadAbuseValuesNamingTheVariable(t *testing.T) {
	for _, tt := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"switch neither on nor off", []string{"USERSVC_RATE_LIMITS=maybe"}, "USERSVC_RATE_LIMITS"},
		{"rate without window", []string{"USERSVC_RATE_LIMIT_LOGIN=20"}, "USERSVC_RATE_LIMIT_LOGIN"},
		{"rate with a bad window", []string{"USERSVC_RATE_LIMIT_REGISTER=5/fortnight"}, "USERSVC_RATE_LIMIT_REGISTER"},
		{"rate window too short", []string{"USERSVC_RATE_LIMIT_PASSWORD=5/1ms"}, "USERSVC_RATE_LIMIT_PASSWORD"},
		{"negative rate", []string{"USERSVC_RATE_LIMIT_LOGIN_ACCOUNT=-1/1m"}, "USERSVC_RATE_LIMIT_LOGIN_ACCOUNT"},
		{"write rate without window", []string{"USERSVC_RATE_LIMIT_WRITE=60"}, "USERSVC_RATE_LIMIT_WRITE"},
		{"email change window over a day", []string{"USERSVC_RATE_LIMIT_EMAIL_CHANGE=5/48h"}, "USERSVC_RATE_LIMIT_EMAIL_CHANGE"},
		{"lockout over OWASP's 100 an hour", []string{"USERSVC_LOGIN_LOCKOUT_THRESHOLD=30"}, "USERSVC_LOGIN_LOCKOUT_THRESHOLD"},
		{"lockout threshold zero", []string{"USERSVC_LOGIN_LOCKOUT_THRESHOLD=0"}, "USERSVC_LOGIN_LOCKOUT_THRESHOLD"},
		{"cool-down too short", []string{"USERSVC_LOGIN_LOCKOUT_COOLDOWN=1s"}, "USERSVC_LOGIN_LOCKOUT_COOLDOWN"},
		{"lockout window too short", []string{"USERSVC_LOGIN_LOCKOUT_WINDOW=1s"}, "USERSVC_LOGIN_LOCKOUT_WINDOW"},
		{"negative slowdown", []string{"USERSVC_LOGIN_SLOWDOWN_STEP=-1s"}, "USERSVC_LOGIN_SLOWDOWN_STEP"},
		{"client lockout threshold zero", []string{"USERSVC_CLIENT_LOCKOUT_THRESHOLD=0"}, "USERSVC_CLIENT_LOCKOUT_THRESHOLD: must be between 1 and 1000, got 0"},
		{"client lockout threshold that locks nothing out", []string{"USERSVC_CLIENT_LOCKOUT_THRESHOLD=1001"}, "USERSVC_CLIENT_LOCKOUT_THRESHOLD"},
		{"client lockout window too short", []string{"USERSVC_CLIENT_LOCKOUT_WINDOW=10s"}, "USERSVC_CLIENT_LOCKOUT_WINDOW: must be between 1m and 24h, got 10s"},
		{"client cool-down too long", []string{"USERSVC_CLIENT_LOCKOUT_COOLDOWN=48h"}, "USERSVC_CLIENT_LOCKOUT_COOLDOWN"},
		{"redis url not redis", []string{"REDIS_URL=http://cache:6379"}, "REDIS_URL"},
		{"proxy not a CIDR", []string{"USERSVC_TRUSTED_PROXIES=10.0.0.1"}, "USERSVC_TRUSTED_PROXIES"},
		{"min length under NIST's 8", []string{"USERSVC_PASSWORD_MIN_LENGTH=6"}, "USERSVC_PASSWORD_MIN_LENGTH"},
		{"unknown hash", []string{"USERSVC_PASSWORD_HASH=md5"}, "USERSVC_PASSWORD_HASH"},
		{"argon2 memory too small", []string{"USERSVC_PASSWORD_HASH=argon2id", "USERSVC_ARGON2_MEMORY_KIB=64"}, "USERSVC_ARGON2_MEMORY_KIB"},
		{"argon2 under OWASP in production", []string{"USERSVC_ENV=production", "USERSVC_JWT_SECRET=" + strings.Repeat("s", 40),
			"USERSVC_PASSWORD_HASH=argon2id", "USERSVC_ARGON2_ITERATIONS=1"}, "USERSVC_ARGON2_ITERATIONS: production needs"},
		{"argon2 memory under OWASP in production", []string{"USERSVC_ENV=production", "USERSVC_JWT_SECRET=" + strings.Repeat("s", 40),
			"USERSVC_PASSWORD_HASH=argon2id", "USERSVC_ARGON2_MEMORY_KIB=16384"}, "USERSVC_ARGON2_MEMORY_KIB: production needs"},
		{"argon2 iterations too many", []string{"USERSVC_PASSWORD_HASH=argon2id", "USERSVC_ARGON2_ITERATIONS=101"}, "USERSVC_ARGON2_ITERATIONS: must be between 1 and 100, got 101"},
		// Each argon2id parameter is named when it is the wrong one (the
		// parallelism's refusal used to name the memory).
		{"argon2 parallelism zero", []string{"USERSVC_PASSWORD_HASH=argon2id", "USERSVC_ARGON2_PARALLELISM=0"}, "USERSVC_ARGON2_PARALLELISM: must be at least 1, got 0"},
		{"negative hash queue", []string{"USERSVC_HASH_QUEUE=-1"}, "USERSVC_HASH_QUEUE"},
		{"zero hash wait", []string{"USERSVC_HASH_MAX_WAIT=0s"}, "USERSVC_HASH_MAX_WAIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.environ, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestDefaultLockoutMeetsOWASP(t *testing.T) {
	if n := defaultAbuse.LockoutMaxPerHour(); n > MaxFailuresPerHour {
		t.Errorf("default lockout lets %d failures an hour through, want at most %d", n, MaxFailuresPerHour)
	}
}

// TestEveryVariableIsDocumented: each variable Config reads is in
// .env.example and in README's configuration table.
func TestEveryVariableIsDocumented(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variables() {
		if !strings.Contains(string(example), "\n"+v.name+"=") {
			t.Errorf(".env.example does not document %s", v.name)
		}
		if !strings.Contains(string(readme), "| `"+v.name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.name)
		}
	}
	for _, name := range Overrides() {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("README's production settings table lacks the override %s", name)
		}
	}
}

// TestRateLimitDefaultsDocumented: the default of every rate limit is the
// one README's configuration table, its rate-limit table and .env.example
// give.
func TestRateLimitDefaultsDocumented(t *testing.T) {
	c, err := Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	documented := func(where, text string) Rate {
		t.Helper()
		var r Rate
		if err := r.UnmarshalText([]byte(strings.Trim(text, "` "))); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		return r
	}
	rates := 0
	for _, v := range variables() {
		got, ok := reflect.ValueOf(c).FieldByIndex(v.index).Interface().(Rate)
		if !ok {
			continue
		}
		rates++
		var inConfig, inLimits, inExample []Rate
		for line := range strings.SplitSeq(string(readme), "\n") {
			cells := strings.Split(line, "|")
			if len(cells) < 5 {
				continue
			}
			switch {
			case strings.TrimSpace(cells[1]) == "`"+v.name+"`":
				inConfig = append(inConfig, documented("README configuration table, "+v.name, cells[2]))
			case strings.TrimSpace(cells[len(cells)-2]) == "`"+v.name+"`":
				inLimits = append(inLimits, documented("README rate-limit table, "+v.name, cells[len(cells)-3]))
			}
		}
		for line := range strings.SplitSeq(string(example), "\n") {
			if value, ok := strings.CutPrefix(line, v.name+"="); ok {
				inExample = append(inExample, documented(".env.example, "+v.name, value))
			}
		}
		if len(inConfig) != 1 || inConfig[0] != got {
			t.Errorf("%s defaults to %s; README's configuration table says %v", v.name, got, inConfig)
		}
		if len(inLimits) == 0 {
			t.Errorf("README's rate-limit table does not list %s", v.name)
		}
		for _, r := range inLimits {
			if r != got {
				t.Errorf("%s defaults to %s; README's rate-limit table says %s", v.name, got, r)
			}
		}
		if len(inExample) != 1 || inExample[0] != got {
			t.Errorf("%s defaults to %s; .env.example says %v", v.name, got, inExample)
		}
	}
	if rates < 10 {
		t.Errorf("found %d rate variables, want every USERSVC_RATE_LIMIT_*", rates)
	}
}

// TestDefaultLimitsBoundWritesAndMail: the defaults make finding 3 of
// issue 18 impossible (50 email probes in 0.26 s, 381 audit rows a second
// and unbounded verification mail from one client), while a person
// changing their profile never meets them.
func TestDefaultLimitsBoundWritesAndMail(t *testing.T) {
	perHour := func(r Rate) float64 { return float64(r.Limit) * float64(time.Hour) / float64(r.Window) }
	for _, tt := range []struct {
		name     string
		rate     Rate
		min, max float64 // per hour
	}{
		{"USERSVC_RATE_LIMIT_EMAIL_CHANGE (probes of addresses per account)", defaultAbuse.RateLimitEmailChange, 3, 10},
		{"USERSVC_RATE_LIMIT_WRITE_ACCOUNT (audited writes per account)", defaultAbuse.RateLimitWriteAcct, 300, 3600},
		{"USERSVC_RATE_LIMIT_WRITE (writes per address)", defaultAbuse.RateLimitWrite, 600, 7200},
		{"USERSVC_RATE_LIMIT_MAIL_RECIPIENT (mail to one address)", defaultLifecycle.RateLimitMailRecipient, 1, 5},
		{"USERSVC_RATE_LIMIT_EXPORT (exports per account)", defaultAbuse.RateLimitExport, 2, 12},
	} {
		if n := perHour(tt.rate); n < tt.min || n > tt.max {
			t.Errorf("%s: %s is %.0f an hour, want %.0f to %.0f", tt.name, tt.rate, n, tt.min, tt.max)
		}
	}
}
