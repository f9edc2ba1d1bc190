package httpapi

import (
	"context"
	"log/slog"
)

// requestAttrs is a slog.Handler that adds to each record the request id
// and, once authenticated, the user id of the request its context belongs
// to (read from its requestInfo). The ids are attached only when a line is
// written, rather than building derived loggers for every request, most of
// which write one line.
type requestAttrs struct{ slog.Handler }

// Handle adds request_id and user_id, when known, and passes r on.
func (h requestAttrs) Handle(ctx context.Context, r slog.Record) error {
	if info := requestInfoFrom(ctx); info != nil {
		if info.requestID != "" {
			r.AddAttrs(slog.String("request_id", info.requestID))
		}
		if info.userID != "" {
			r.AddAttrs(slog.String("user_id", info.userID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the ids coming.
func (h requestAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestAttrs{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the ids coming (inside the group).
func (h requestAttrs) WithGroup(name string) slog.Handler {
	return requestAttrs{h.Handler.WithGroup(name)}
}

// requestInfoFrom returns the requestInfo of ctx, nil outside a request.
func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}
