package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestKeysCommandUsage(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	for _, args := range [][]string{{"keys"}, {"keys", "burn"}} {
		if err := run(context.Background(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=HS256"), io.Discard); err == nil {
		t.Error("keys list with HS256 succeeded, want an error: there are no stored keys")
	}
	if err := run(context.Background(), []string{"keys", "list"}, append(environ, "USERSVC_JWT_ALG=bogus"), io.Discard); err == nil {
		t.Error("keys list with a bad configuration succeeded")
	}
}

func TestKeysRotateRetireList(t *testing.T) {
	environ := []string{"USERSVC_DATA_DIR=" + t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate", "up"}, environ, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"keys", "list"}, environ, &out); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	first := strings.Fields(strings.Split(out.String(), "\n")[1])[0]
	out.Reset()
	if err := run(t.Context(), []string{"keys", "retire", first}, environ, &out); err == nil {
		t.Error("keys retire of the signing key succeeded, want a refusal: nothing would sign")
	}
	if err := run(t.Context(), []string{"keys", "rotate"}, environ, &out); err != nil || !strings.Contains(out.String(), "pending") {
		t.Fatalf("keys rotate: %v, output %q; want a pending key", err, out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"keys", "rotate", "--now"}, environ, &out); err != nil {
		t.Fatalf("keys rotate --now: %v", err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"keys", "retire", first}, environ, &out); err != nil {
		t.Fatalf("keys retire %s: %v", first, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[2], first) || !strings.Contains(lines[2], "revoked") ||
		!strings.Contains(lines[3], "active") || !strings.Contains(lines[4], "pending") {
		t.Errorf("keys list after retire = %q, want the first key revoked, the --now key active, the staged one pending", out.String())
	}
	for _, args := range [][]string{{"keys", "retire"}, {"keys", "list", "--now"}, {"keys", "rotate", "x"}, {"keys", "rotate", "--bogus"}} {
		if err := run(t.Context(), args, environ, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
}
