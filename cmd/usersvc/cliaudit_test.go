package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/internal/app"
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

// TestKeyChangesAreAudited: `keys rotate`, `keys retire` (a key withdrawn
// because it leaked) and `keys reseal` changed the token signing keys
// without a trace in the audit log: whoever had a shell could rotate or
// withdraw keys unseen. Each is now recorded, naming the key (never its
// material), the command and the operator.
func TestKeyChangesAreAudited(t *testing.T) {
	environ := append(databases[0].environ(t), "USER=ops-test")
	st := auditStore(t, environ)
	firstSigningKey(t, environ) // as serve's first start does: the key to retire
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "rotate", "--now"}, environ, &out); err != nil {
		t.Fatalf("keys rotate --now: %v", err)
	}
	rotated := regexp.MustCompile(`new signing key (\S+) `).FindStringSubmatch(out.String())
	old := regexp.MustCompile(`(?m)^(\S+) .* retiring `).FindStringSubmatch(out.String())
	if rotated == nil || old == nil {
		t.Fatalf("keys rotate --now printed %q, want the new key and the old one retiring", out.String())
	}
	for _, args := range [][]string{{"keys", "retire", old[1]}, {"keys", "reseal"}} {
		if err := run(context.Background(), args, environ, &out); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
	}
	want := []struct {
		kind    user.AuditKind
		command string
		kid     string
	}{
		{app.AuditKeyRotated, "usersvc keys rotate", rotated[1]},
		{app.AuditKeyRevoked, "usersvc keys retire", old[1]},
		{app.AuditKeysResealed, "usersvc keys reseal", ""},
	}
	for _, w := range want {
		events, err := st.Audit.Events(t.Context(), user.AuditFilter{Kinds: []user.AuditKind{w.kind}})
		if err != nil || len(events) != 1 {
			t.Errorf("%s events: %+v, %v; want one", w.kind, events, err)
			continue
		}
		e := events[0]
		if !strings.HasPrefix(e.UserAgent, w.command+" ") || !strings.Contains(e.UserAgent, "ops-test") || e.Detail["kid"] != w.kid {
			t.Errorf("%s recorded user agent %q, detail %v; want %q by ops-test, kid %q", w.kind, e.UserAgent, e.Detail, w.command, w.kid)
		}
	}
}
