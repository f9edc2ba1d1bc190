package main

import (
	"strings"
	"testing"
)

func TestServeRefusesIncompleteSMTPSettings(t *testing.T) {
	err := run(t.Context(), []string{"serve"}, []string{"USERSVC_DATA_DIR=" + t.TempDir(), "USERSVC_MAILER=smtp", "USERSVC_MAIL_FROM=no-reply@example.com"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "USERSVC_SMTP_HOST") {
		t.Errorf("serve = %v, want an error naming USERSVC_SMTP_HOST", err)
	}
}
