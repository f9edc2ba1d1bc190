package config

import (
	"strings"
	"testing"
	"time"
)

var defaultLifecycle = Lifecycle{
	EmailVerificationTTL: 24 * time.Hour, PasswordResetTTL: time.Hour,
	RateLimitMail: Rate{Limit: 10, Window: time.Hour}, RateLimitMailRecipient: Rate{Limit: 3, Window: time.Hour},
}

func TestLoadLifecycle(t *testing.T) {
	c, err := Load([]string{
		"USERSVC_EMAIL_VERIFICATION_TTL=48h", "USERSVC_PASSWORD_RESET_TTL=15m", "USERSVC_REQUIRE_VERIFIED_EMAIL=on",
		"USERSVC_RATE_LIMIT_MAIL=off", "USERSVC_RATE_LIMIT_MAIL_RECIPIENT=5/1d",
	}, "")
	if err == nil || !strings.Contains(err.Error(), "USERSVC_RATE_LIMIT_MAIL_RECIPIENT") {
		t.Errorf("Load with a bad rate: got %v, want an error naming USERSVC_RATE_LIMIT_MAIL_RECIPIENT", err)
	}
	c, err = Load([]string{
		"USERSVC_EMAIL_VERIFICATION_TTL=48h", "USERSVC_PASSWORD_RESET_TTL=15m", "USERSVC_REQUIRE_VERIFIED_EMAIL=on",
		"USERSVC_RATE_LIMIT_MAIL=off", "USERSVC_RATE_LIMIT_MAIL_RECIPIENT=5/24h",
	}, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Lifecycle{
		EmailVerificationTTL: 48 * time.Hour, PasswordResetTTL: 15 * time.Minute, RequireVerifiedEmail: true,
		RateLimitMailRecipient: Rate{Limit: 5, Window: 24 * time.Hour},
	}
	if c.Lifecycle != want {
		t.Errorf("Lifecycle = %+v, want %+v", c.Lifecycle, want)
	}
	for _, tt := range []struct{ env, name string }{
		{"USERSVC_EMAIL_VERIFICATION_TTL=1m", "USERSVC_EMAIL_VERIFICATION_TTL"},
		{"USERSVC_EMAIL_VERIFICATION_TTL=200h", "USERSVC_EMAIL_VERIFICATION_TTL"},
		{"USERSVC_PASSWORD_RESET_TTL=1m", "USERSVC_PASSWORD_RESET_TTL"},
		{"USERSVC_PASSWORD_RESET_TTL=25h", "USERSVC_PASSWORD_RESET_TTL"},
		{"USERSVC_REQUIRE_VERIFIED_EMAIL=maybe", "USERSVC_REQUIRE_VERIFIED_EMAIL"},
	} {
		if _, err := Load([]string{tt.env}, ""); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("Load(%s): got error %v, want one naming %s", tt.env, err, tt.name)
		}
	}
}
