package usertest

import (
	"context"

	"github.com/usersvc/usersvc/internal/user"
)

// RecordedAudit is an AuditLog that notes the filter of every read, so
// that a plan test can explain the queries the service itself makes.
type RecordedAudit struct {
	user.AuditLog
	Filters []user.AuditFilter
}

// Events notes f, then reads through the wrapped log.
func (r *RecordedAudit) Events(ctx context.Context, f user.AuditFilter) ([]user.AuditEvent, error) {
	r.Filters = append(r.Filters, f)
	return r.AuditLog.Events(ctx, f)
}
