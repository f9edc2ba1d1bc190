package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestHealthcheckCommand(t *testing.T) {
	srv := start(t, []string{"USERSVC_DATA_DIR=" + t.TempDir()})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/healthz"}, nil, &out); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Errorf("healthcheck of a live server = %q, %v; want ok", out.String(), err)
	}
	addr := strings.TrimPrefix(srv.base, "http://")
	_, port, _ := strings.Cut(addr, ":")
	if err := run(context.Background(), []string{"healthcheck"}, []string{"USERSVC_ADDR=:" + port}, io.Discard); err != nil {
		t.Errorf("healthcheck from USERSVC_ADDR=:%s = %v, want nil", port, err)
	}
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/nowhere"}, nil, io.Discard); err == nil {
		t.Error("healthcheck of a 404 succeeded, want an error")
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"healthcheck", srv.base + "/healthz"}, nil, io.Discard); err == nil {
		t.Error("healthcheck of a stopped server succeeded, want an error")
	}
}
