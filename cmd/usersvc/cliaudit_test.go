package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/oauthclient"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// TestCommandChangesAreAuditedAsTheCommand: a client or webhook endpoint
// created, rotated or deleted from the shell was recorded with no actor
// and nothing else: no command, no operator, so the audit log could not
// tell it from any other actorless change. Each event now names the
// command and the operator ($USER), as `audit prune` does.
func TestCommandChangesAreAuditedAsTheCommand(t *testing.T) {
	environ := append(databases[0].environ(t), "USER=ops-test")
	st := auditStore(t, environ)
	do := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, environ, &out); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return out.String()
	}
	client := regexp.MustCompile(`created client (\S+)`).FindStringSubmatch(do("clients", "create", "--name", "CI", "--confidential", "--grants", "client_credentials"))
	endpoint := regexp.MustCompile(`endpoint (\S+)\n`).FindStringSubmatch(do("webhooks", "create", "--url", "https://hooks.example.com/x", "--types", "*"))
	if client == nil || endpoint == nil {
		t.Fatal("create printed no id")
	}
	do("clients", "rotate-secret", client[1])
	do("clients", "delete", client[1])
	do("webhooks", "delete", endpoint[1])
	want := map[user.AuditKind]string{
		oauthclient.AuditCreated: "usersvc clients create", oauthclient.AuditSecretRotated: "usersvc clients rotate-secret",
		oauthclient.AuditDeleted: "usersvc clients delete", webhook.AuditCreated: "usersvc webhooks create", webhook.AuditDeleted: "usersvc webhooks delete",
	}
	events, err := st.Audit.Events(t.Context(), user.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if cmd, ok := want[e.Kind]; ok {
			delete(want, e.Kind)
			if !strings.HasPrefix(e.UserAgent, cmd+" ") || !strings.Contains(e.UserAgent, "ops-test") {
				t.Errorf("%s recorded user agent %q, want %q and the operator ops-test", e.Kind, e.UserAgent, cmd)
			}
		}
	}
	for kind := range want {
		t.Errorf("no %s event recorded", kind)
	}
}
