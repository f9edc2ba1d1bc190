package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// An operator creates, lists and deletes endpoints from the shell, on
// either database; the secret is printed once.
func TestWebhooksCommand(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			environ := db.environ(t)
			ctx := context.Background()
			if err := run(ctx, []string{"migrate", "up"}, environ, io.Discard); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(ctx, []string{"webhooks", "create", "--url", "https://hooks.example.com/usersvc", "--types", "user.created, user.deleted", "--description", "billing"}, environ, &out)
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`endpoint ([0-9a-f-]{36})\nsigning secret \(shown only now\): (whsec_\S+)`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("create printed %q, want the id and the secret", out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"webhooks", "list"}, environ, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), m[1]) || !strings.Contains(out.String(), "user.created,user.deleted") || strings.Contains(out.String(), m[2]) {
				t.Errorf("list = %q, want the endpoint and its types, never the secret", out.String())
			}
			if err := run(ctx, []string{"webhooks", "create", "--url", "https://hooks.example.com/", "--types", "user.hacked"}, environ, io.Discard); err == nil || !strings.Contains(err.Error(), "user.hacked") {
				t.Errorf("create with an unknown type: %v, want an error naming it", err)
			}
			out.Reset()
			if err := run(ctx, []string{"webhooks", "delete", m[1]}, environ, &out); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			_ = run(ctx, []string{"webhooks", "list"}, environ, &out)
			if strings.Contains(out.String(), m[1]) {
				t.Errorf("list after delete still shows the endpoint: %q", out.String())
			}
		})
	}
}

func TestWebhooksCommandUsage(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"webhooks", "--help"}, environ, &out); err != nil || !strings.Contains(out.String(), "usersvc webhooks create --url") {
		t.Errorf("webhooks --help = %v, %q; want the usage", err, out.String())
	}
	for _, args := range [][]string{{"webhooks", "burn"}, {"webhooks", "create", "--url", "https://a.example/"}, {"webhooks", "delete"}, {"webhooks", "delete", "nope"}, {"webhooks", "list", "extra"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
}

// TestWebhooksCreateReadsTheURLFromAFile: an endpoint's URL may hold the
// receiver's own token (the audit log keeps only its host for that
// reason), but --url was the only way to give it, so the token went to
// the process list and the shell history. --url-file reads it from a
// file, as create-admin's --password-file does.
func TestWebhooksCreateReadsTheURLFromAFile(t *testing.T) {
	environ := databases[0].environ(t)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	const url = "https://hooks.example.com/usersvc?token=receivers-own-secret"
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"webhooks", "create", "--url-file", file, "--types", "user.created"}, environ, io.Discard); err != nil {
		t.Fatalf("create --url-file: %v", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"webhooks", "list"}, environ, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), url+" ") {
		t.Errorf("list = %q, want the endpoint with the URL read from the file", out.String())
	}
	for _, args := range [][]string{
		{"webhooks", "create", "--url", url, "--url-file", file, "--types", "user.created"},
		{"webhooks", "create", "--url-file", filepath.Join(t.TempDir(), "missing"), "--types", "user.created"},
	} {
		if err := run(ctx, args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		} else if strings.Contains(err.Error(), "receivers-own-secret") {
			t.Errorf("run(%q) error %q shows the URL's token", args, err)
		}
	}
}

// TestWebhooksCreateRefusesAForeignKeyEncryptionKey: `webhooks create`
// run with a key-encryption key that is not the deployment's (a stale
// one, or a development key generated beside a command pointed at the
// production DATABASE_URL) sealed the new endpoint's secret under it and
// printed it as if all was well: the service, which cannot open it, never
// delivered to the endpoint. It now refuses, naming the variable, and
// creates nothing.
func TestWebhooksCreateRefusesAForeignKeyEncryptionKey(t *testing.T) {
	environ := databases[0].environ(t)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	firstSigningKey(t, environ) // sealed under the deployment's key
	foreign := append(slices.Clone(environ), "USERSVC_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'k'}, 32)))
	var out bytes.Buffer
	err := run(ctx, []string{"webhooks", "create", "--url", "https://hooks.example.com/x", "--types", "*"}, foreign, &out)
	if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), "USERSVC_KEY_ENCRYPTION_KEY") || strings.Contains(out.String(), "whsec_") {
		t.Errorf("webhooks create with a foreign key = %v (exit %d), printed %q; want exit 1 naming USERSVC_KEY_ENCRYPTION_KEY and no secret", err, code, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"webhooks", "list"}, environ, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hooks.example.com") {
		t.Errorf("webhooks list = %q, want no endpoint created", out.String())
	}
}
