package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// An operator registers, lists, rotates and deletes clients from the
// shell, on either database; a secret is printed once and never listed.
func TestClientsCommand(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			ctx := context.Background()
			if err := run(ctx, []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(ctx, []string{"clients", "create", "--name", "Reporting", "--confidential", "--grants", "client_credentials", "--scopes", "users:read,audit:read"}, environ, &out)
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`created client (\S+) \(confidential, client_secret_basic; grants client_credentials; scopes users:read,audit:read\)\nclient secret \(shown only now\): (ucs_\S+)`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("create printed %q, want the id and the secret", out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"clients", "create", "--name", "Web", "--first-party", "--redirect-uris", "https://app.example.com/cb, http://localhost:3000/cb"}, environ, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "(public, first-party; grants authorization_code,refresh_token,password;") || strings.Contains(out.String(), "secret") {
				t.Errorf("public first-party create printed %q, want the password grant and no secret", out.String())
			}
			if err := run(ctx, []string{"clients", "create", "--name", "Bad", "--redirect-uris", "http://app.example.com/cb"}, environ, io.Discard); err == nil || !strings.Contains(err.Error(), "redirect_uris") {
				t.Errorf("create with an http redirect: %v, want an error naming redirect_uris", err)
			}
			out.Reset()
			if err := run(ctx, []string{"clients", "rotate-secret", m[1]}, environ, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "ucs_") || strings.Contains(out.String(), m[2]) {
				t.Errorf("rotate-secret printed %q, want a new secret", out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"clients", "list"}, environ, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), m[1]) || !strings.Contains(out.String(), "Web") || strings.Contains(out.String(), "ucs_") {
				t.Errorf("list = %q, want both clients, never a secret", out.String())
			}
			if err := run(ctx, []string{"clients", "delete", m[1]}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			_ = run(ctx, []string{"clients", "list"}, environ, &out)
			if strings.Contains(out.String(), m[1]) {
				t.Errorf("list after delete still shows the client: %q", out.String())
			}
			if err := run(ctx, []string{"clients", "delete", m[1]}, environ, io.Discard); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Errorf("deleting it again: %v, want not found", err)
			}
		})
	}
}
