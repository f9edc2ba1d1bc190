package config

import (
	"strings"
	"testing"
	"time"
)

var defaultSessions = Sessions{RefreshTokenTTL: 30 * 24 * time.Hour, SessionMaxAge: 90 * 24 * time.Hour, RefreshReuseGrace: 10 * time.Second, ReauthWindow: 10 * time.Minute, RequireMFAFor: "none"}

func TestLoadSessions(t *testing.T) {
	c, err := Load([]string{"USERSVC_REFRESH_TOKEN_TTL=24h", "USERSVC_SESSION_MAX_AGE=168h", "USERSVC_REFRESH_REUSE_GRACE=0s"}, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := (Sessions{RefreshTokenTTL: 24 * time.Hour, SessionMaxAge: 168 * time.Hour, ReauthWindow: 10 * time.Minute, RequireMFAFor: "none"}); c.Sessions != want {
		t.Errorf("Sessions = %+v, want %+v", c.Sessions, want)
	}
	for _, tt := range []struct{ env, name string }{
		{"USERSVC_REFRESH_TOKEN_TTL=1m", "USERSVC_REFRESH_TOKEN_TTL"},
		{"USERSVC_REFRESH_TOKEN_TTL=9000h", "USERSVC_REFRESH_TOKEN_TTL"},
		{"USERSVC_SESSION_MAX_AGE=1h", "USERSVC_SESSION_MAX_AGE"},
		{"USERSVC_REFRESH_REUSE_GRACE=-1s", "USERSVC_REFRESH_REUSE_GRACE"},
		{"USERSVC_REFRESH_REUSE_GRACE=2m", "USERSVC_REFRESH_REUSE_GRACE"},
	} {
		if _, err := Load([]string{tt.env}, ""); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("Load(%s): got error %v, want one naming %s", tt.env, err, tt.name)
		}
	}
}
