package config

import (
	"strings"
	"testing"
	"time"
)

var defaultRetention = Retention{SessionRetention: 720 * time.Hour, AuditRetention: 9600 * time.Hour, WebhookDeliveryRetention: 720 * time.Hour, RetentionInterval: time.Hour, MaxSessionsPerUser: 100}

func TestLoadRetention(t *testing.T) {
	c, err := Load(nil, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := defaultRetention; c.Retention != want {
		t.Errorf("defaults: Retention = %+v, want %+v", c.Retention, want)
	}
	c, err = Load([]string{"USERSVC_SESSION_RETENTION=24h", "USERSVC_AUDIT_RETENTION=0", "USERSVC_RETENTION_INTERVAL=5m", "USERSVC_MAX_SESSIONS_PER_USER=3", "USERSVC_WEBHOOK_DELIVERY_RETENTION=48h"}, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := (Retention{SessionRetention: 24 * time.Hour, WebhookDeliveryRetention: 48 * time.Hour, RetentionInterval: 5 * time.Minute, MaxSessionsPerUser: 3}); c.Retention != want {
		t.Errorf("Retention = %+v, want %+v", c.Retention, want)
	}
	if c, err := Load([]string{"USERSVC_SESSION_RETENTION=0"}, ""); err != nil || c.SessionRetention != 0 {
		t.Errorf("USERSVC_SESSION_RETENTION=0: %v, %v; want 0 (keep every session)", c.SessionRetention, err)
	}
	for _, tt := range []struct{ env, name string }{
		{"USERSVC_SESSION_RETENTION=-1h", "USERSVC_SESSION_RETENTION"},
		{"USERSVC_SESSION_RETENTION=30s", "USERSVC_SESSION_RETENTION"},
		{"USERSVC_AUDIT_RETENTION=1h", "USERSVC_AUDIT_RETENTION"},
		{"USERSVC_WEBHOOK_DELIVERY_RETENTION=1h", "USERSVC_WEBHOOK_DELIVERY_RETENTION"},
		{"USERSVC_WEBHOOK_DELIVERY_RETENTION=-24h", "USERSVC_WEBHOOK_DELIVERY_RETENTION"},
		{"USERSVC_RETENTION_INTERVAL=1s", "USERSVC_RETENTION_INTERVAL"},
		{"USERSVC_MAX_SESSIONS_PER_USER=0", "USERSVC_MAX_SESSIONS_PER_USER"},
		{"USERSVC_MAX_SESSIONS_PER_USER=many", "USERSVC_MAX_SESSIONS_PER_USER"},
	} {
		if _, err := Load([]string{tt.env}, ""); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("Load(%s): got error %v, want one naming %s", tt.env, err, tt.name)
		}
	}
}
