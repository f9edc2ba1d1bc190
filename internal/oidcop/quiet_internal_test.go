package oidcop

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestQuietRefusalsDropsOnlyTheCallersErrors: of the lines logged during
// a refused authorization request, only op's lines about the caller's
// error are dropped; a store fault behind a bad request, an ERROR line
// and any other line are written, and nothing is held once released or
// when the request was not refused.
func TestQuietRefusalsDropsOnlyTheCallersErrors(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(QuietRefusals(slog.NewTextHandler(&buf, nil)))
	storeFault := oidc.ErrInvalidRequestRedirectURI().WithDescription("unable to retrieve client by id").
		WithParent(oidc.ErrServerError().WithParent(errors.New("database down")))
	logAll := func(ctx context.Context) {
		log.WarnContext(ctx, "auth request: not redirecting", "oidc_error", oidc.ErrInvalidRequestRedirectURI().WithDescription("caller"))
		log.WarnContext(ctx, "auth request: not redirecting", "oidc_error", storeFault)
		log.ErrorContext(ctx, "auth request", "oidc_error", oidc.ErrServerError().WithDescription("server"))
		log.WarnContext(ctx, "something else")
	}

	held := &heldLines{}
	ctx := context.WithValue(t.Context(), heldKey{}, held)
	logAll(ctx)
	if buf.Len() != 0 {
		t.Fatalf("written before the answer: %s", buf.String())
	}
	dropped := held.release(true)
	if dropped == nil || dropped.Description != "caller" {
		t.Errorf("dropped %v, want the caller's error", dropped)
	}
	got := buf.String()
	if strings.Contains(got, "description=caller") || !strings.Contains(got, "database down") ||
		!strings.Contains(got, "description=server") || !strings.Contains(got, "something else") {
		t.Errorf("written after a refusal:\n%s\nwant all but the caller's error", got)
	}
	buf.Reset()
	log.WarnContext(ctx, "late")
	if !strings.Contains(buf.String(), "late") {
		t.Errorf("a line after the release was held: %q", buf.String())
	}

	buf.Reset()
	held = &heldLines{}
	logAll(context.WithValue(t.Context(), heldKey{}, held))
	if dropped := held.release(false); dropped != nil || strings.Count(buf.String(), "\n") != 4 {
		t.Errorf("not refused: dropped %v, written:\n%s\nwant all four lines", dropped, buf.String())
	}
}
