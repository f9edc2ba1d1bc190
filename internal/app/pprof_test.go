package app

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

func TestPprofOffByDefault(t *testing.T) {
	if err := startPprof(t.Context(), "", slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("startPprof(unset) = %v, want nil", err)
	}
}

func TestPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "10.1.2.3:6060", "example.com:6060", "nonsense"} {
		if err := startPprof(t.Context(), addr, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("startPprof(%q) = nil, want an error", addr)
		}
	}
}

func TestPprofServesOnLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // find a free port
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := startPprof(t.Context(), addr, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("startPprof(%q) = %v", addr, err)
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline = %d, want 200", res.StatusCode)
	}
}
