package oidcop

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// zitadel's op logs what it refuses through slog's default logger, never
// through one it is given (op.WithLogger has no effect in v3.52.0): for
// an authorization request that cannot go back to its client, a WARN line
// ("auth request: not redirecting", or "auth request" when the query does
// not parse) with the request's client_id and redirect_uri, although the
// request is the caller's mistake (or anyone's forged link) and refusals
// already answers it. QuietRefusals lets the provider replace that line
// by one of its own, at INFO, without the request's parameters.

// QuietRefusals wraps h, the handler of slog's default logger
// (slog.SetDefault in usersvc serve), so that the lines logged through it
// while the provider handles an authorization request wait until the
// request's answer is known: when the provider refuses the request
// (refusals), op's lines about the caller's error (refusalError) are
// dropped and the provider logs one line of its own instead; every other
// line, and every line of a request not refused, is written to h as it
// was logged. Lines logged outside an authorization request pass straight
// through. Without it the provider works the same and op's lines are
// written at once.
func QuietRefusals(h slog.Handler) slog.Handler { return quietHandler{next: h} }

type quietHandler struct{ next slog.Handler }

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.next.Enabled(ctx, l)
}

func (q quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if hl, ok := ctx.Value(heldKey{}).(*heldLines); ok && hl.hold(ctx, q.next, r) {
		return nil
	}
	return q.next.Handle(ctx, r)
}

func (q quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{next: q.next.WithAttrs(as)}
}

func (q quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{next: q.next.WithGroup(name)}
}

// heldKey marks the context of an authorization request with its
// heldLines.
type heldKey struct{}

// heldLines are the lines logged through QuietRefusals during one
// authorization request, until release.
type heldLines struct {
	mu       sync.Mutex
	released bool
	lines    []heldLine
}

type heldLine struct {
	ctx context.Context //nolint:containedctx // the line's own, handed back to its handler on release
	h   slog.Handler
	r   slog.Record
}

// hold keeps r for release and reports whether it did: not once released
// (a goroutine of the request's that outlives it logs at once).
func (hl *heldLines) hold(ctx context.Context, h slog.Handler, r slog.Record) bool {
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if hl.released {
		return false
	}
	hl.lines = append(hl.lines, heldLine{ctx: ctx, h: h, r: r.Clone()})
	return true
}

// release writes the held lines; when the request was refused, except
// op's lines about a refusal the caller caused (refusalError). It returns
// the OpenID error of the last line it dropped (nil: none).
func (hl *heldLines) release(refused bool) *oidc.Error {
	hl.mu.Lock()
	lines := hl.lines
	hl.lines, hl.released = nil, true
	hl.mu.Unlock()
	var dropped *oidc.Error
	for _, l := range lines {
		if e := refusalError(l.r); refused && e != nil {
			dropped = e
			continue
		}
		if l.h.Enabled(l.ctx, l.r.Level) {
			_ = l.h.Handle(l.ctx, l.r)
		}
	}
	return dropped
}

// refusalError is the OpenID error of r when r is op's line about an
// error of the caller's: below ERROR, with an oidc_error attribute, and no
// server error behind it (a store that failed to find the client is
// logged as op logs it, though op answers it as a bad request). Nil
// otherwise.
func refusalError(r slog.Record) *oidc.Error {
	if r.Level >= slog.LevelError {
		return nil
	}
	var e *oidc.Error
	r.Attrs(func(a slog.Attr) bool {
		if oe, ok := a.Value.Any().(*oidc.Error); ok && a.Key == "oidc_error" {
			e = oe
			return false
		}
		return true
	})
	if e == nil || errors.Is(e, oidc.ErrServerError()) {
		return nil
	}
	return e
}
