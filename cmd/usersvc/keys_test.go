package main

import (
	"context"
	"io"
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
