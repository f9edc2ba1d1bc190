package config

import (
	"strings"
	"testing"
	"time"
)

var defaultWebhooks = Webhooks{WebhookRetryFor: 72 * time.Hour}

func TestWebhookSettings(t *testing.T) {
	c, err := Load([]string{"USERSVC_WEBHOOK_ALLOW_PRIVATE=on", "USERSVC_WEBHOOK_RETRY_FOR=6h"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.WebhookAllowPrivate || c.WebhookRetryFor != 6*time.Hour {
		t.Errorf("Webhooks = %+v, want allow-private on, retry for 6h", c.Webhooks)
	}
	for _, v := range []string{"30s", "721h", "soon"} {
		_, err := Load([]string{"USERSVC_WEBHOOK_RETRY_FOR=" + v}, "")
		if err == nil || !strings.Contains(err.Error(), "USERSVC_WEBHOOK_RETRY_FOR") {
			t.Errorf("USERSVC_WEBHOOK_RETRY_FOR=%s: err = %v, want one naming the variable", v, err)
		}
	}
	if _, err := Load([]string{"USERSVC_WEBHOOK_ALLOW_PRIVATE=maybe"}, ""); err == nil || !strings.Contains(err.Error(), "USERSVC_WEBHOOK_ALLOW_PRIVATE") {
		t.Errorf("USERSVC_WEBHOOK_ALLOW_PRIVATE=maybe: err = %v, want one naming the variable", err)
	}
}
