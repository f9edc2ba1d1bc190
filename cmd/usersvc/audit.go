package main

import (
	"context"
	"log/slog"

	"github.com/usersvc/usersvc/internal/user"
)

// auditOptions records security events in the store's audit log. An
// event that cannot be appended does not fail its request (what it
// records has happened) but is logged at error level, for an alert.
func auditOptions(st user.AuditLog, log *slog.Logger) []user.Option {
	return []user.Option{user.WithAuditLog(st, func(ctx context.Context, err error) {
		log.ErrorContext(ctx, "audit event lost: could not append it", "error", err.Error())
	})}
}
